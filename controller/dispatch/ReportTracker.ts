import { ResultStatus, type EnforcementResult, type Report } from '../../proto/gen/cordon/v1/agent.js';
import { asCordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { IncidentService } from '../services/IncidentService.js';
import type { StoredEnforcement } from '../store/DesiredStateRepo.js';
import { retryTransient } from '../store/retryTransient.js';
import type { Store } from '../store/Store.js';

/** Runs of one report's handling before a transient failure is logged and the report dropped (about 6 s of backoff in all). */
const REPORT_TRIES = 8;

/**
 * Turns agent reports into dispatch status and incident events: a report of
 * the host's current generation with every result applied moves its
 * enforcing incidents to enforced (and released ones to closed); a failed
 * result puts its incident in front of an operator.
 *
 * A report speaks for its own host only. The enforcement and incident ids in
 * it are the agent's words: a result counts only when it names an
 * enforcement the controller holds for that host now, and the incident it
 * touches is the one the controller stored with that enforcement. Any other
 * result (another host's enforcement, an invented or a released one) is
 * logged, counted in `ignoredResults` and otherwise dropped.
 */
export class ReportTracker {
  private queue: Promise<void> = Promise.resolve();
  /** Results dropped because they named no enforcement of the reporting host (for metrics and tests). */
  ignoredResults = 0;

  constructor(
    private readonly store: Store,
    private readonly service: IncidentService,
    private readonly clock: () => Date,
    private readonly log: Logger,
    /** Told how long a generation took from decision to applied (for the dispatch histogram). */
    private readonly onApplied: (seconds: number) => void = () => {},
  ) {}

  /**
   * Serialised per controller: reports are small and ordering matters for one
   * host. An agent reports a generation once: a report dropped on a
   * transient failure (a race lost to another replica, a busy file) would
   * leave its incidents enforcing for good, so it is handled again; each
   * step reads what it needs afresh, and an incident already moved is not
   * moved twice.
   */
  onReport(hostId: string, report: Report): void {
    this.queue = this.queue.then(() => retryTransient(() => this.handle(hostId, report), REPORT_TRIES)).catch((err: unknown) => {
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
    if (report.error || generation !== desired.generation) {
      const error = report.error || `agent holds generation ${generation}, controller is at ${desired.generation}`;
      await this.store.desired.recordStatus(hostId, { status: report.error ? 'failed' : 'pending', appliedGeneration: generation, error, at: now });
      return;
    }
    // Checked only for the current generation: an older one may name enforcements since released.
    const own = this.ownResults(hostId, report.results, desired.enforcements);
    const failed = own.filter(({ result }) => result.status !== ResultStatus.RESULT_STATUS_APPLIED);
    if (failed.length > 0) {
      const error = failed.map(({ result }) => `${result.enforcementId}: ${result.error}`).join('; ');
      await this.store.desired.recordStatus(hostId, { status: 'failed', appliedGeneration: generation, error, at: now });
      for (const incidentId of new Set(failed.map(({ enforcement }) => enforcement.incidentId))) {
        // An incident past the point of failing (closed since) refuses the event; a lost race runs the report again.
        await this.service.apply(incidentId, { type: 'host_failed', error }, `agent ${hostId}`).catch((err: unknown) => {
          if (isCordonError(err, 'transient')) throw err;
        });
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

  /** The results that name an enforcement the host holds, each with the stored enforcement; logs and counts the rest. */
  private ownResults(
    hostId: string,
    results: readonly EnforcementResult[],
    held: readonly StoredEnforcement[],
  ): { result: EnforcementResult; enforcement: StoredEnforcement }[] {
    const byId = new Map(held.map((e) => [e.id, e]));
    const own: { result: EnforcementResult; enforcement: StoredEnforcement }[] = [];
    const ignored: string[] = [];
    for (const result of results) {
      const enforcement = byId.get(result.enforcementId);
      if (enforcement) own.push({ result, enforcement });
      else ignored.push(result.enforcementId);
    }
    if (ignored.length > 0) {
      this.ignoredResults += ignored.length;
      this.log.warn(
        { host: hostId, ignored: ignored.slice(0, 20).map((id) => id.slice(0, 200)), count: ignored.length },
        'agent report names enforcements its host does not hold: ignored',
      );
    }
    return own;
  }
}
