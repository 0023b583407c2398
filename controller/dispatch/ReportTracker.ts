import { ResultStatus, type EnforcementResult, type Report } from '../../proto/gen/cordon/v1/agent.js';
import { asCordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { IncidentState } from '../incidents/model.js';
import type { IncidentService } from '../services/IncidentService.js';
import type { StoredEnforcement } from '../store/DesiredStateRepo.js';
import { retryTransient } from '../store/retryTransient.js';
import type { Store } from '../store/Store.js';

/** Runs of one report's handling before a transient failure is logged and the report dropped (about 6 s of backoff in all). */
const REPORT_TRIES = 8;
/** Reports handled together, at most: those waiting when the previous batch is done. */
const BATCH = 500;

type Owned = { result: EnforcementResult; enforcement: StoredEnforcement }[];

/**
 * Whether the agent's report of the current generation confirms an incident
 * in this state: an action taken (enforcing), a lift (releasing) unless the
 * switch port is still shut, which keeps the server cut whatever the agent
 * holds; and a confirmed lift again, which closes it.
 */
function confirms(state: IncidentState, portShut: boolean): boolean {
  return state === 'enforcing' || state === 'released' || (state === 'releasing' && !portShut);
}

/**
 * Turns agent reports into dispatch status and incident events: a report of
 * the host's current generation with every result applied moves its
 * enforcing incidents to enforced, its releasing ones to released (unless
 * Cordon still holds its switch port shut) and released ones to closed; a failed
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
  private pending: { hostId: string; report: Report }[] = [];
  private draining = false;
  /** Results dropped because they named no enforcement of the reporting host (for metrics and tests). */
  ignoredResults = 0;
  /** Reports whose ignored results were counted already (noteIgnored). */
  private readonly noted = new WeakSet<Report>();

  constructor(
    private readonly store: Store,
    private readonly service: IncidentService,
    private readonly clock: () => Date,
    private readonly log: Logger,
    /** Told how long a generation took from decision to applied (for the dispatch histogram). */
    private readonly onApplied: (seconds: number) => void = () => {},
  ) {}

  /**
   * Serialised per controller: ordering matters for one host. Reports that
   * arrive while a batch is handled wait and are handled together (a mass
   * action's thousand reports): the common one (the current generation,
   * everything applied) in bulk, one status write and one transaction of
   * incident events for the batch; any other one by one, in order. An agent
   * reports a generation once: a batch dropped on a transient failure (a
   * race lost to another replica, a busy file) would leave its incidents
   * enforcing for good, so it is handled again; each step reads what it
   * needs afresh, and an incident already moved is not moved twice. A batch
   * that fails for good is handled again report by report, so only the
   * report at fault is lost.
   */
  onReport(hostId: string, report: Report): void {
    this.pending.push({ hostId, report });
    if (this.draining) return;
    this.draining = true;
    this.queue = this.queue.then(() => this.drain());
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, BATCH);
      try {
        await retryTransient(() => this.handleMany(batch), REPORT_TRIES);
      } catch (err) {
        if (batch.length > 1) this.log.warn({ reports: batch.length, err: asCordonError(err).message }, 'a batch of agent reports failed; handling them one by one');
        for (const { hostId, report } of batch.length > 1 ? batch : []) {
          await retryTransient(() => this.handle(hostId, report), REPORT_TRIES).catch((e: unknown) => this.cannotRecord(hostId, e));
        }
        if (batch.length === 1) this.cannotRecord(batch[0]!.hostId, err);
      }
    }
    this.draining = false;
  }

  private cannotRecord(hostId: string, err: unknown): void {
    this.log.error({ host: hostId, err: asCordonError(err).message }, 'cannot record agent report');
  }

  /**
   * A batch: hosts whose every report is of the current generation with
   * every result it names applied are recorded in bulk; the others go one
   * by one, in order.
   */
  private async handleMany(batch: readonly { hostId: string; report: Report }[]): Promise<void> {
    const hosts = [...new Set(batch.map((b) => b.hostId))];
    const desired = await this.store.desired.getMany(hosts);
    const owned = batch.map(({ hostId, report }) => this.partition(report.results, desired.get(hostId)!.enforcements));
    const simple = new Set(hosts);
    batch.forEach(({ hostId, report }, k) => {
      if (report.error || Number(report.appliedGeneration) !== desired.get(hostId)!.generation || owned[k]!.own.some(({ result }) => result.status !== ResultStatus.RESULT_STATUS_APPLIED)) simple.delete(hostId);
    });
    for (const [k, { hostId, report }] of batch.entries()) {
      if (simple.has(hostId)) this.noteIgnored(hostId, owned[k]!.ignored, report);
      else await this.handle(hostId, report);
    }
    if (simple.size === 0) return;
    const now = this.clock();
    const applied = [...simple];
    const before = await this.store.desired.statusMany(applied);
    await this.store.desired.recordStatusMany(applied.map((hostId) => ({ hostId, report: { status: 'applied', appliedGeneration: desired.get(hostId)!.generation, at: now } })));
    for (const hostId of applied) {
      const d = desired.get(hostId)!;
      // Only the first report of a generation measures its dispatch; later heartbeat reports repeat it.
      if (d.issuedAt && before.get(hostId)?.appliedGeneration !== d.generation) this.onApplied((now.getTime() - d.issuedAt.getTime()) / 1000);
    }
    const shut = await this.portsShut(applied);
    const incidents = (await this.store.incidents.listForHosts(applied, ['enforcing', 'releasing', 'released'])).filter((i) => confirms(i.state, shut.has(i.hostId)));
    const failed = await this.service.applyMany(
      // A confirmed lift releases, and the same report closes (as a report closed a released incident before).
      incidents.flatMap((i) => (i.state === 'releasing' ? [i, i] : [i])).map((i) => ({ incidentId: i.id, event: { type: 'host_applied' } as const, actor: `agent ${i.hostId}` })),
      'agent',
    );
    for (const [incident, err] of failed) this.log.error({ incident, err: asCordonError(err).message }, 'cannot record an agent report on its incident');
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
    const { own, ignored } = this.partition(report.results, desired.enforcements);
    this.noteIgnored(hostId, ignored, report);
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
    const shut = (await this.portsShut([hostId])).has(hostId);
    for (const i of incidents) {
      if (confirms(i.state, shut)) {
        const after = await this.service.apply(i.id, { type: 'host_applied' }, `agent ${hostId}`);
        // A confirmed lift releases, and the same report closes (as a report closed a released incident before).
        if (i.state === 'releasing' && after.state === 'released') await this.service.apply(i.id, { type: 'host_applied' }, `agent ${hostId}`);
      }
    }
  }

  /** Hosts among these whose switch port Cordon holds shut: a lift there is not done until the port opens (SwitchFallback). */
  private async portsShut(hostIds: readonly string[]): Promise<Set<string>> {
    const ports = await this.store.switches.getMany(hostIds);
    return new Set([...ports.values()].filter((p) => p.portDown).map((p) => p.hostId));
  }

  /** The results that name an enforcement the host holds, each with the stored enforcement, and the ids of the rest. */
  private partition(results: readonly EnforcementResult[], held: readonly StoredEnforcement[]): { own: Owned; ignored: string[] } {
    const byId = new Map(held.map((e) => [e.id, e]));
    const own: Owned = [];
    const ignored: string[] = [];
    for (const result of results) {
      const enforcement = byId.get(result.enforcementId);
      if (enforcement) own.push({ result, enforcement });
      else ignored.push(result.enforcementId);
    }
    return { own, ignored };
  }

  /**
   * Logs and counts results that named no enforcement of the reporting host,
   * once per report received: a batch run again after a transient failure
   * (or then one by one) sees the same report objects again.
   */
  private noteIgnored(hostId: string, ignored: readonly string[], report: Report): void {
    if (ignored.length > 0 && !this.noted.has(report)) {
      this.noted.add(report);
      this.ignoredResults += ignored.length;
      this.log.warn(
        { host: hostId, ignored: ignored.slice(0, 20).map((id) => id.slice(0, 200)), count: ignored.length },
        'agent report names enforcements its host does not hold: ignored',
      );
    }
  }
}
