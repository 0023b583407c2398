import { ResultStatus, type Report } from '../../proto/gen/cordon/v1/agent.js';
import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { IncidentService } from '../incidents/IncidentService.js';
import type { Store } from '../store/Store.js';

/**
 * Turns agent reports into dispatch status and incident events: a report of
 * the host's current generation with every result applied moves its
 * enforcing incidents to enforced (and released ones to closed); a failed
 * result puts its incident in front of an operator.
 */
export class ReportTracker {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly service: IncidentService,
    private readonly clock: () => Date,
    private readonly log: Logger,
    /** Told how long a generation took from decision to applied (for the dispatch histogram). */
    private readonly onApplied: (seconds: number) => void = () => {},
  ) {}

  /** Serialised per controller: reports are small and ordering matters for one host. */
  onReport(hostId: string, report: Report): void {
    this.queue = this.queue.then(() => this.handle(hostId, report)).catch((err: unknown) => {
      this.log.error({ host: hostId, err: asCordonError(err).message }, 'cannot record agent report');
    });
  }

  /** Resolves when every report received so far is processed (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  private async handle(hostId: string, report: Report): Promise<void> {
    const now = this.clock();
    const desired = await this.store.desired.get(hostId);
    const generation = Number(report.appliedGeneration);
    const failed = report.results.filter((r) => r.status !== ResultStatus.RESULT_STATUS_APPLIED);
    if (report.error || generation !== desired.generation) {
      const error = report.error || `agent holds generation ${generation}, controller is at ${desired.generation}`;
      await this.store.desired.recordStatus(hostId, { status: report.error ? 'failed' : 'pending', appliedGeneration: generation, error, at: now });
      return;
    }
    if (failed.length > 0) {
      const error = failed.map((f) => `${f.enforcementId}: ${f.error}`).join('; ');
      await this.store.desired.recordStatus(hostId, { status: 'failed', appliedGeneration: generation, error, at: now });
      for (const incidentId of new Set(failed.map((f) => f.enforcementId.split(':')[0]!))) {
        await this.service.apply(incidentId, { type: 'host_failed', error }, `agent ${hostId}`).catch(() => {});
      }
      return;
    }
    const before = await this.store.desired.status(hostId);
    await this.store.desired.recordStatus(hostId, { status: 'applied', appliedGeneration: generation, at: now });
    // Only the first report of a generation measures its dispatch; later heartbeat reports repeat it.
    if (desired.issuedAt && before?.appliedGeneration !== generation) this.onApplied((now.getTime() - desired.issuedAt.getTime()) / 1000);
    const incidents = await this.store.incidents.list({ hostId, limit: 1000 });
    for (const i of incidents) {
      if (i.state === 'enforcing' || i.state === 'released') {
        await this.service.apply(i.id, { type: 'host_applied' }, `agent ${hostId}`);
      }
    }
  }
}
