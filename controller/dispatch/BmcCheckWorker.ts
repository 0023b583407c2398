import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { BmcCheck, BmcDriver } from '../bmc/BmcDriver.js';
import type { Clock } from '../clock.js';
import type { IncidentService } from '../services/IncidentService.js';
import type { Store } from '../store/Store.js';

/** A check runs for seconds; the lease must outlast it. */
const LEASE_MS = 120_000;
const RETRY_MS = 30_000;

/**
 * Runs the BMC checks the lifecycle asks for (outbox rows of kind
 * `bmc_check`, written with the decision that needs them), records each
 * result, and feeds it back to the incident as a `bmc_result` event: a held
 * cut proceeds once the console answers; a console lost after a cut raises
 * an alert. Also serves on-demand checks (`cordonctl host bmc-check`).
 */
export class BmcCheckWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly service: IncidentService,
    private readonly driver: BmcDriver,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly pollMs = 1_000,
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.kick();
  }

  kick(): void {
    this.running = this.running.then(() => this.pass()).catch((err: unknown) => this.log.error({ err: asCordonError(err).message }, 'bmc check pass failed'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Checks a host's BMC now, records it, and lets any cut held for it proceed. */
  async checkHost(hostId: string): Promise<BmcCheck> {
    const check = await this.run(hostId);
    const held = (await this.store.incidents.list({ hostId, limit: 1000 })).filter((i) => i.hold === 'bmc_unreachable');
    for (const i of held) await this.feed(i.id, 'before', check);
    return check;
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    const rows = await this.store.outbox.claimDue(this.clock.now(), 4, LEASE_MS, ['bmc_check']);
    await Promise.all(
      rows.map(async (row) => {
        const { hostId, phase } = row.payload as { hostId: string; phase: 'before' | 'after' };
        try {
          const check = await this.run(hostId);
          if (row.incidentId) await this.feed(row.incidentId, phase, check);
          await this.store.outbox.markDone({ id: row.id, lease: row.lease });
        } catch (err) {
          const e = asCordonError(err);
          this.log.error({ host: hostId, err: e.message }, 'bmc check failed to run');
          await this.store.outbox.markFailed({ id: row.id, lease: row.lease }, e.message, new Date(this.clock.now().getTime() + RETRY_MS));
        }
      }),
    );
  }

  private async run(hostId: string): Promise<BmcCheck> {
    const bmc = await this.store.bmcs.get(hostId);
    // Freshness is judged on the incident clock, so the check is stamped by
    // it: a driver stamps wall time, which differs when that clock is a
    // drill's (or a test's), and a cut would wait for a "stale" check forever.
    const checkedAt = this.clock.now();
    const measured: BmcCheck = bmc
      ? await this.driver.check({ hostId, address: bmc.address, port: bmc.port, user: bmc.user, passwordFile: bmc.passwordFile, sol: bmc.sol, ...(bmc.cipherSuite !== undefined ? { cipherSuite: bmc.cipherSuite } : {}) })
      : { hostId, reachable: false, sol: 'unavailable', checkedAt, durationMs: 0, error: 'no BMC in the inventory for this host', errorKind: 'other', attempts: 0 };
    const check = { ...measured, checkedAt };
    // A console that answers but lacks the SOL the customer relies on does not count as reachable.
    const usable = check.reachable && check.sol !== 'unavailable';
    await this.store.bmcs.recordCheck(hostId, { reachable: usable, checkedAt: check.checkedAt, error: check.error, sol: check.sol, durationMs: check.durationMs });
    this.log.info({ host: hostId, reachable: check.reachable, sol: check.sol, ms: Math.round(check.durationMs), error: check.error }, 'bmc checked');
    return { ...check, reachable: usable };
  }

  private async feed(incidentId: string, phase: 'before' | 'after', check: BmcCheck): Promise<void> {
    await this.service
      .apply(incidentId, { type: 'bmc_result', phase, reachable: check.reachable, checkedAt: check.checkedAt, error: check.error }, 'bmc')
      .catch((err: unknown) => this.log.warn({ incident: incidentId, err: asCordonError(err).message }, 'bmc result not applied'));
  }
}
