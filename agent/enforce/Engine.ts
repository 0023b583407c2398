import { createHash } from 'node:crypto';
import { CordonError, asCordonError } from '../../proto/runtime/CordonError.js';
import type { Log } from '../../proto/runtime/Log.js';
import type { Backend } from '../backends/Backend.js';
import type { LinkObserved } from '../backends/linkBackend.js';
import type { NftObserved } from '../backends/nftBackend.js';
import type { StateFile } from '../state/StateFile.js';
import { computePlan, type HostSettings } from './computePlan.js';
import type { Desired, EnforcementKindName, EnforcementPlan } from './plan.js';

export interface TcObservedShape {
  interfaces: { name: string; rateBps: number | undefined; egress: boolean; ingress: boolean }[];
}

/** The three parts of a host's enforcement; real ones or the dry-run set. */
export interface HostBackends {
  nft: Backend<NftObserved> & { sameAsApplied?(plan: EnforcementPlan): boolean; close?(): void };
  tc: Backend<TcObservedShape>;
  link: Backend<LinkObserved> & {
    refusal(iface: string, plan: EnforcementPlan): Promise<string | undefined>;
    downedByCordon(): string[];
    restoreDowned(names: string[]): void;
  };
}

export type ResultStatusName = 'applied' | 'failed' | 'refused';

export interface EnforcementOutcome {
  id: string;
  incidentId: string;
  kind: EnforcementKindName;
  status: ResultStatusName;
  error: string;
}

export interface Observed {
  nft: NftObserved;
  tc: TcObservedShape;
  links: LinkObserved;
}

export interface ConvergeResult {
  generation: bigint;
  outcomes: EnforcementOutcome[];
  observed: Observed;
  digest: string;
  /** True when nothing had to change (same state, nothing drifted). */
  unchanged: boolean;
  /** Milliseconds the converge behind this result took; 0 for a status read. */
  applyMs: number;
  /** Drift repairs since the engine started. */
  driftRepairs: number;
}

export interface TamperReport {
  found: string[];
  restored: string[];
}

/**
 * Converges the host to a desired state and keeps it there. Desired states
 * are full snapshots: the engine refuses an older generation, saves the new
 * one atomically before touching the host (so a crash re-applies it at
 * start), applies every backend even when one fails, then reads the host
 * back and reports per enforcement what it really sees.
 */
export class Engine {
  private saved: { desired: Desired; releasedLocally: boolean } | undefined;
  private plan: EnforcementPlan;
  private refused = new Map<string, string>();
  private applyErrors = new Map<string, string>();
  private lastObserved: Observed | undefined;
  private nftReference: string | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private driftRepairs = 0;

  constructor(
    private readonly backends: HostBackends,
    private readonly host: HostSettings,
    private readonly state: StateFile,
    private readonly log: Log,
  ) {
    this.plan = computePlan(undefined, host);
  }

  /** Ends what the backends keep running (the nft session); what is enforced stays. */
  close(): void {
    this.backends.nft.close?.();
  }

  /** The generation this host holds (0: none). */
  generation(): bigint {
    return this.saved?.desired.generation ?? 0n;
  }

  held(): Desired | undefined {
    return this.saved?.desired;
  }

  /** Loads the saved state without touching the host (for one-shot commands that then converge or report). */
  load(): Desired | undefined {
    const saved = this.state.load();
    if (!saved) return undefined;
    this.backends.link.restoreDowned(saved.linksDownedByCordon);
    this.saved = { desired: saved.desired, releasedLocally: saved.releasedLocally };
    this.plan = saved.releasedLocally ? computePlan(undefined, this.host) : computePlan(saved.desired, this.host);
    return saved.desired;
  }

  /** Loads the saved state and applies it; resolves with the result, or undefined when nothing was saved. */
  async restore(): Promise<ConvergeResult | undefined> {
    return this.exclusive(async () => {
      const saved = this.state.load();
      if (!saved) return undefined;
      this.backends.link.restoreDowned(saved.linksDownedByCordon);
      this.saved = { desired: saved.desired, releasedLocally: saved.releasedLocally };
      return this.applyHeld();
    });
  }

  /**
   * Converges to `desired`. An older generation is a `conflict` error and
   * changes nothing; the same generation with the same content only verifies
   * (and repairs drift); the same generation with other content is a conflict.
   */
  async converge(desired: Desired): Promise<ConvergeResult> {
    return this.exclusive(async () => {
      const started = performance.now();
      const result = await this.convergeHeld(desired);
      return { ...result, applyMs: Math.round(performance.now() - started) };
    });
  }

  private async convergeHeld(desired: Desired): Promise<ConvergeResult> {
    {
      const held = this.saved?.desired;
      if (held && desired.generation < held.generation) {
        throw new CordonError('conflict', `generation ${desired.generation} is older than generation ${held.generation} which this host holds`, {
          field: 'generation',
        });
      }
      if (held && desired.generation === held.generation) {
        if (fingerprintOf(desired) !== fingerprintOf(held)) {
          throw new CordonError('conflict', `generation ${desired.generation} is already held with different enforcements`, {
            field: 'generation',
          });
        }
        return this.verifyAndRepair();
      }
      this.saved = { desired, releasedLocally: false };
      // applyHeld saves it before it touches the host: one write on the way to the first dropped packet, not two.
      return this.applyHeld();
    }
  }

  /** Re-reads the host; when what Cordon enforces has changed, re-applies it and says what it found. */
  async checkDrift(): Promise<TamperReport | undefined> {
    return this.exclusive(async () => {
      if (this.state.changedElsewhere()) {
        // An operator ran `cordon-agent apply` or `release-all` beside the
        // daemon: the file is the newer word, converge to it.
        const saved = this.state.load();
        const same = saved && this.saved && saved.releasedLocally === this.saved.releasedLocally && fingerprintOf(saved.desired) === fingerprintOf(this.saved.desired) && saved.desired.generation === this.saved.desired.generation;
        // Rewritten with the same word (release-all records the links it raised once they are up): already followed.
        if (saved && !same) {
          this.backends.link.restoreDowned(saved.linksDownedByCordon);
          this.saved = { desired: saved.desired, releasedLocally: saved.releasedLocally };
          this.log.info({ generation: saved.desired.generation.toString(), releasedLocally: saved.releasedLocally }, 'saved state changed by another process; following it');
          await this.applyHeld();
          const how = saved.releasedLocally ? 'released by cordon-agent release-all' : `generation ${saved.desired.generation} applied by cordon-agent apply`;
          return { found: [`saved state rewritten outside the daemon: ${how}`], restored: [] };
        }
      }
      if (!this.saved || this.lastObserved === undefined) return undefined;
      const observed = await this.observe();
      const found = this.differences(observed);
      if (found.length === 0) {
        this.lastObserved = observed;
        return undefined;
      }
      this.log.warn({ found }, 'enforcement drifted; re-applying');
      this.driftRepairs++;
      await this.applyHeld();
      const after = this.differences(this.lastObserved!);
      const restored = found.filter((f) => !after.includes(f)).map((f) => `restored: ${f}`);
      return { found, restored };
    });
  }

  /** Removes everything Cordon owns and keeps it removed until a newer generation arrives. */
  async releaseAll(): Promise<void> {
    return this.exclusive(async () => {
      // The word first, then the deed: a daemon beside this command that checks for drift while the
      // tables come down must already read "released" in the file, or it repairs what is being removed.
      const downedBefore = this.backends.link.downedByCordon().join(',');
      if (this.saved) {
        this.saved.releasedLocally = true;
        this.persist();
      }
      const empty = { ...this.plan, smtp: undefined, isolate: false, throttleBps: undefined, linksDown: [] };
      const errors = await this.eachBackend((b) => b.release(empty));
      this.plan = empty;
      // The links it raised are no longer Cordon's to raise again after a restart.
      if (this.saved && this.backends.link.downedByCordon().join(',') !== downedBefore) this.persist();
      this.lastObserved = await this.observe();
      this.nftReference = this.lastObserved.nft.fingerprint;
      if (errors.size > 0) throw new CordonError('transient', [...errors.values()].join('; '));
    });
  }

  /** What the host looks like now, with the outcomes of the held state. */
  async status(): Promise<ConvergeResult> {
    return this.exclusive(async () => {
      const observed = await this.observe();
      return this.result(observed, false);
    });
  }

  private async verifyAndRepair(): Promise<ConvergeResult> {
    const observed = await this.observe();
    if (this.lastObserved !== undefined && this.differences(observed).length === 0) {
      this.lastObserved = observed;
      return this.result(observed, true);
    }
    if (this.lastObserved !== undefined) this.driftRepairs++;
    return this.applyHeld();
  }

  private async applyHeld(): Promise<ConvergeResult> {
    const saved = this.saved!;
    const plan = saved.releasedLocally
      ? computePlan(undefined, this.host)
      : computePlan(saved.desired, this.host);
    this.refused.clear();
    // NIC_DOWN must never cut the management path: refused links stay up.
    const allowedDown: string[] = [];
    for (const iface of plan.linksDown) {
      const reason = await this.backends.link.refusal(iface, plan).catch((err: unknown) => `cannot check ${iface}: ${asCordonError(err).message}`);
      if (reason) this.refused.set(iface, reason);
      else allowedDown.push(iface);
    }
    // All-or-nothing for NIC_DOWN: a host with one public link cut and one up helps nobody.
    plan.linksDown = this.refused.size > 0 ? [] : allowedDown;
    this.plan = plan;
    // Save the state, with the links about to go down, before the deed: after
    // a crash mid-apply the agent re-applies it at start, and a release must
    // still know to raise those links. Only a NIC down needs the links read
    // first; an isolate or an SMTP block goes straight to nft.
    const before = plan.linksDown.length > 0 ? await this.backends.link.observe(plan).catch(() => undefined) : undefined;
    const goingDown = before?.links.filter((l) => plan.linksDown.includes(l.name) && l.up).map((l) => l.name) ?? [];
    this.persist(goingDown);
    // An nft transaction identical to the last one applied, on a table seen
    // unchanged since, is not sent again (it costs ~18 ms, a third of an
    // apply: a throttle or a NIC down changes no nft rule). The observation
    // below checks the table all the same; if it changed, it is applied now.
    const nft = this.backends.nft;
    // The reference must be a table that holds the plan: a customer who deletes the table again right after a repair
    // leaves an observation of no table behind, and skipping on it would stop every later repair.
    const wantTable = plan.isolate || plan.smtp !== undefined;
    const skipNft =
      this.nftReference !== undefined && this.lastObserved?.nft.present === wantTable && this.lastObserved.nft.fingerprint === this.nftReference && nft.sameAsApplied?.(plan) === true;
    this.applyErrors = await this.eachBackend((b) => (skipNft && b === nft ? Promise.resolve() : b.apply(plan)));
    this.persist();
    let observed = await this.observe();
    if (skipNft && (observed.nft.fingerprint !== this.nftReference || observed.nft.present !== wantTable)) {
      this.log.warn({ generation: saved.desired.generation.toString() }, 'nft table changed since it was last applied; applying it');
      const again = await this.eachBackend((b) => (b === nft ? b.apply(plan) : Promise.resolve()));
      for (const [name, message] of again) this.applyErrors.set(name, message);
      observed = await this.observe();
    }
    this.lastObserved = observed;
    this.nftReference = observed.nft.fingerprint;
    const result = this.result(observed, false);
    this.log.info(
      { generation: saved.desired.generation.toString(), outcomes: result.outcomes.map((o) => `${o.kind}:${o.status}`) },
      'desired state applied',
    );
    return result;
  }

  private async eachBackend(fn: (b: Backend<unknown>) => Promise<void>): Promise<Map<string, string>> {
    const errors = new Map<string, string>();
    for (const b of [this.backends.nft, this.backends.tc, this.backends.link] as Backend<unknown>[]) {
      try {
        await fn(b);
      } catch (err) {
        const message = asCordonError(err).message;
        errors.set(b.name, message);
        this.log.error({ backend: b.name, err: message }, 'backend failed');
      }
    }
    return errors;
  }

  private async observe(): Promise<Observed> {
    const [nft, tc, links] = await Promise.all([
      this.backends.nft.observe(this.plan),
      this.backends.tc.observe(this.plan),
      this.backends.link.observe(this.plan),
    ]);
    return { nft, tc, links };
  }

  /** How the host differs from the plan, in words for the tamper report. */
  private differences(o: Observed): string[] {
    const p = this.plan;
    const found: string[] = [];
    const wantTable = p.isolate || p.smtp !== undefined;
    if (wantTable && !o.nft.present) found.push('nft table inet cordon missing');
    else if (wantTable && o.nft.fingerprint !== this.nftReference) found.push('nft table inet cordon changed');
    else if (!wantTable && o.nft.present) found.push('nft table inet cordon present though nothing is enforced');
    for (const i of o.tc.interfaces) {
      if (p.throttleBps !== undefined && (!sameRate(i.rateBps, p.throttleBps) || !i.egress || !i.ingress)) {
        found.push(`tc throttle on ${i.name} missing or altered`);
      }
    }
    for (const l of o.links.links) {
      if (p.linksDown.includes(l.name) && l.up) found.push(`${l.name} is up though NIC_DOWN holds it down`);
    }
    // Cordon's rules name the public interfaces: one renamed (or removed) slips out of them, and re-applying
    // cannot bring it back, so it is reported on every check, a run of tamper reports the controller hands to the switch.
    const restricting = wantTable || p.throttleBps !== undefined || p.linksDown.length > 0;
    for (const l of o.links.links) {
      if (restricting && !l.exists) found.push(`public interface ${l.name} missing (renamed or removed): the rules that name it do not hold`);
    }
    return found;
  }

  private result(observed: Observed, unchanged: boolean): ConvergeResult {
    const desired = this.saved?.desired;
    const released = this.saved?.releasedLocally === true;
    const err = (backend: string) => this.applyErrors.get(backend) ?? '';
    const outcomes: EnforcementOutcome[] = (desired?.enforcements ?? []).map((e) => {
      const base = { id: e.id, incidentId: e.incidentId, kind: e.action.kind };
      if (released) return { ...base, status: 'refused', error: 'released locally by cordon-agent release-all; waiting for a newer generation' };
      const check = (ok: boolean, backend: string, what: string): EnforcementOutcome =>
        ok ? { ...base, status: 'applied', error: '' } : { ...base, status: 'failed', error: err(backend) || `${what} not found on the host after applying` };
      switch (e.action.kind) {
        case 'smtp_block':
          return check(observed.nft.smtpBlock, 'nftables', 'the SMTP block rule');
        case 'isolate':
          return check(observed.nft.isolate, 'nftables', 'the isolation rules');
        case 'throttle': {
          const rate = this.plan.throttleBps;
          const ok = observed.tc.interfaces.length > 0 && observed.tc.interfaces.every((i) => sameRate(i.rateBps, rate!) && i.egress && i.ingress);
          return check(ok, 'tc', `a ${rate} bit/s throttle on every public interface`);
        }
        case 'nic_down': {
          if (this.refused.size > 0) return { ...base, status: 'refused', error: [...this.refused.values()].join('; ') };
          const ok = observed.links.links.length > 0 && observed.links.links.every((l) => l.exists && !l.up);
          return check(ok, 'link', 'every public interface down');
        }
      }
    });
    return { generation: this.generation(), outcomes, observed, digest: digestOf(observed), unchanged, applyMs: 0, driftRepairs: this.driftRepairs };
  }

  private persist(alsoDowned: string[] = []): void {
    if (!this.saved) return;
    const downed = [...new Set([...this.backends.link.downedByCordon(), ...alsoDowned])].sort();
    this.state.save({ desired: this.saved.desired, linksDownedByCordon: downed, releasedLocally: this.saved.releasedLocally });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }
}

/** The kernel keeps rates in whole bytes per second: 10,000,003 bit/s reads back as 10,000,000. */
function sameRate(observedBps: number | undefined, wantedBps: number): boolean {
  return observedBps === Math.floor(wantedBps / 8) * 8;
}

function fingerprintOf(d: Desired): string {
  return JSON.stringify(d.enforcements, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** A short digest of what the host enforces, sent with heartbeats so the controller sees changes. */
export function digestOf(o: Observed): string {
  const shape = {
    nft: o.nft.fingerprint,
    tc: o.tc.interfaces.map((i) => [i.name, i.rateBps ?? 0, i.egress, i.ingress]),
    links: o.links.links.map((l) => [l.name, l.up]),
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}
