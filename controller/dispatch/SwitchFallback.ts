import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { AgentSessions } from '../agents/SessionRegistry.js';
import { TamperLog } from '../agents/TamperLog.js';
import type { Clock } from '../clock.js';
import type { IncidentEvent } from '../incidents/lifecycle.js';
import { CUT_ACTIONS, type Incident } from '../incidents/model.js';
import type { Store } from '../store/Store.js';
import type { HostSwitch } from '../store/SwitchesRepo.js';
import type { SwitchDriver } from '../switch/SwitchDriver.js';
import { SwitchBackoff } from './SwitchBackoff.js';

/** How often a port Cordon holds down is read back from the switch. */
const VERIFY_EVERY_MS = 60_000;

export interface SwitchFallbackSettings {
  /** An agent silent this long while its host should be cut loses its switch port. */
  silentSeconds: number;
  /** This many tamper reports within the window also hand the cut to the switch. */
  tamperThreshold: number;
  tamperWindowSeconds: number;
  sweepMs: number;
}

export interface SwitchFallbackDeps {
  /** Shared with the desk's observation of cuts; one of its own when absent. */
  tampers?: TamperLog | undefined;
  /** Records what the switch confirmed on the host's incidents (IncidentService.apply). */
  apply?: ((incidentId: string, event: IncidentEvent, actor: string) => Promise<unknown>) | undefined;
}

const ACTOR = 'switch-fallback';

/**
 * The network-side fallback. A customer can stop the agent on their server;
 * so when a host should be cut (ISOLATE or NIC_DOWN in its desired state)
 * and its agent has been silent past the window, or keeps reporting
 * tampering, the controller shuts the host's public port on its access
 * switch. It hands the cut back (reopens the port) only once the agent,
 * back, has reported the current generation on its new link and no run of
 * tampering is in the window: no gap. When the host no longer should be
 * cut (release, dismissal), it reopens the port. Level-based: every sweep
 * compares what should be with what the store says Cordon did.
 *
 * What the switch confirmed is recorded on the host's incidents: a cut the
 * agent never confirmed is enforced once the port reads back shut; a release
 * is released once the port reads back open and no cut of the incident is
 * left on the agent's side (it confirmed the lift, or never confirmed the
 * cut). A failing switch (host key changed, key refused, unreachable) is
 * recorded with its kind and since when, the operator is told once per kind,
 * and it is retried no faster than SwitchBackoff allows.
 */
export class SwitchFallback {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly tampers: TamperLog;
  private readonly verified = new Map<string, number>();
  private readonly backoff: SwitchBackoff;
  private readonly startedAt: Date;

  constructor(
    private readonly store: Store,
    private readonly driver: SwitchDriver,
    private readonly sessions: AgentSessions,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly settings: SwitchFallbackSettings,
    private readonly deps: SwitchFallbackDeps = {},
  ) {
    this.startedAt = clock.now();
    this.tampers = deps.tampers ?? new TamperLog(() => clock.now(), settings.tamperWindowSeconds, settings.tamperThreshold);
    this.backoff = new SwitchBackoff(settings.sweepMs);
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.settings.sweepMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Counts a tamper report from a host's agent (when the log is not shared, where its owner records it). */
  onTamper(hostId: string): void {
    if (!this.deps.tampers) this.tampers.record(hostId);
    this.kick();
  }

  kick(): void {
    this.running = this.running.then(() => this.sweep()).catch((err: unknown) => this.log.error({ err: asCordonError(err).message }, 'switch sweep failed'));
  }

  /** One pass over every host with a switch port. */
  async sweep(): Promise<void> {
    const ports = await this.store.switches.list();
    const waiting = await this.store.incidents.listForHosts(
      ports.map((p) => p.hostId),
      ['enforcing', 'enforced', 'release_requested', 'appealed', 'releasing'],
    );
    for (const sw of ports) {
      const now = this.clock.now().getTime();
      if (!this.backoff.due(sw, now)) continue;
      const desired = await this.store.desired.get(sw.hostId);
      const cut = desired.enforcements.some((e) => CUT_ACTIONS.includes(e.action.kind));
      const mine = waiting.filter((i) => i.hostId === sw.hostId);
      if (cut && !sw.portDown) {
        const why = this.reasonToCut(sw.hostId);
        if (why) await this.setPort(sw, false, why, mine);
      } else if (!cut && sw.portDown) {
        await this.setPort(sw, true, 'the host no longer should be cut', mine);
      } else if (cut && sw.portDown) {
        const back = await this.agentBack(sw, desired.generation);
        if (back) await this.setPort(sw, true, back, mine);
        else if (await this.verifyStillDown(sw, mine)) await this.confirmCut(mine);
      } else {
        // Never shut by Cordon: a release whose agent never held the cut is done once nothing else holds the port.
        await this.settleReleases(sw.hostId, mine);
      }
    }
  }

  /**
   * The agent is back and vouches for the cut: connected, it reported the
   * current generation applied after it reconnected and after the port was
   * shut, and no tamper report is in the window. Returns the reason to hand
   * the cut back, or undefined to keep the port shut.
   */
  private async agentBack(sw: HostSwitch, generation: number): Promise<string | undefined> {
    const s = this.sessions.get(sw.hostId);
    if (!s || s.state !== 'connected') return undefined;
    if (this.tampers.recent(sw.hostId).length > 0) return undefined;
    const status = await this.store.desired.status(sw.hostId);
    if (status?.status !== 'applied' || status.appliedGeneration !== generation) return undefined;
    const after = Math.max(s.connectedSince.getTime(), sw.changedAt?.getTime() ?? 0);
    if (status.reportedAt.getTime() < after) return undefined;
    return `the agent is back and confirmed the cut it holds (generation ${generation}, reported ${status.reportedAt.toISOString()})`;
  }

  /**
   * A port Cordon shut can come back up (a switch reboot drops the running
   * configuration, someone typed `no shutdown`): read it back now and then,
   * not on every sweep, and shut it again. True when the switch confirmed
   * it shut (now, or at its last check).
   */
  private async verifyStillDown(sw: HostSwitch, mine: Incident[]): Promise<boolean> {
    const now = this.clock.now().getTime();
    if (now - (this.verified.get(sw.hostId) ?? 0) < VERIFY_EVERY_MS) return sw.confirmedAt !== undefined && sw.failure === undefined;
    this.verified.set(sw.hostId, now);
    try {
      const state = await this.driver.readPort(sw.target);
      if (state.adminUp === true) {
        await this.setPort(sw, false, 'the port Cordon shut was found up again', mine);
        return false;
      }
      await this.store.switches.markConfirmed(sw.hostId, this.clock.now());
      this.backoff.succeeded(sw.hostId);
      return true;
    } catch (err) {
      this.verified.delete(sw.hostId);
      await this.failed(sw, err, 'cannot read back the switch port', mine);
      return false;
    }
  }

  private reasonToCut(hostId: string): string | undefined {
    const now = this.clock.now().getTime();
    const s = this.sessions.get(hostId);
    // A revoked certificate ends the stream (disconnected) and refuses every new one: silent like a stopped agent.
    const lastSign = s ? (s.disconnectedAt ?? (s.state === 'stale' ? s.lastHeartbeat : undefined)) : this.startedAt;
    if (lastSign && now - lastSign.getTime() > this.settings.silentSeconds * 1000) {
      const why = s?.disconnectReason ? ` (${s.disconnectReason})` : '';
      return `agent silent for ${Math.round((now - lastSign.getTime()) / 1000)} s${why} (window ${this.settings.silentSeconds} s)`;
    }
    const recent = this.tampers.recent(hostId);
    if (recent.length >= this.settings.tamperThreshold) {
      return `${recent.length} tamper reports within ${this.settings.tamperWindowSeconds} s`;
    }
    return undefined;
  }

  private async setPort(sw: HostSwitch, up: boolean, reason: string, mine: Incident[]): Promise<void> {
    const at = this.clock.now();
    let recorded: boolean;
    let port: string;
    try {
      const state = await this.driver.setPort(sw.target, up);
      port = state.port;
      recorded = await this.store.db.transaction(async () => {
        // Replicas sweep the same ports: the one that records the change first audits it; the others' (idempotent) switch call stays unrecorded.
        if (!(await this.store.switches.markPort(sw.hostId, !up, reason, at, sw.portDown))) return false;
        const detail = { switch: sw.target.switchId, port: state.port, adminUp: state.adminUp, reason };
        await this.store.audit.append({ at, actor: ACTOR, action: up ? 'switch.port_up' : 'switch.port_down', subject: sw.hostId, detail });
        // Which path enforces is part of each cutting incident's history.
        const cutting = (await this.store.incidents.list({ hostId: sw.hostId, limit: 1000 })).filter((i) => i.actions.some((a) => CUT_ACTIONS.includes(a.kind)));
        for (const i of cutting) {
          await this.store.events.append({ incidentId: i.id, at, type: up ? 'switch_port_up' : 'switch_port_down', fromState: i.state, toState: i.state, actor: ACTOR, detail });
        }
        return true;
      });
    } catch (err) {
      await this.failed(sw, err, up ? 'cannot reopen the switch port' : 'cannot shut the switch port', mine);
      return;
    }
    this.backoff.succeeded(sw.hostId);
    this.verified.set(sw.hostId, at.getTime());
    if (!recorded) return;
    this.log.warn({ host: sw.hostId, switch: sw.target.switchId, port, up, reason }, up ? 'switch port reopened' : 'switch port shut: enforcing through the network');
    if (up) await this.settleReleases(sw.hostId, mine);
    else await this.confirmCut(mine);
  }

  /** The switch confirmed the port shut: cuts no agent confirmed are enforced through the network. */
  private async confirmCut(mine: Incident[]): Promise<void> {
    for (const i of mine.filter((x) => x.state === 'enforcing' && x.actions.some((a) => CUT_ACTIONS.includes(a.kind)))) {
      await this.record(i.id, { type: 'switch_cut' });
    }
  }

  /**
   * The port is open (confirmed, or never shut by Cordon): a release is done
   * when nothing of its incident is left on the agent's side — the agent
   * reported the current generation (without it), or never confirmed the
   * incident's actions at all.
   */
  private async settleReleases(hostId: string, mine: Incident[]): Promise<void> {
    const releasing = mine.filter((i) => i.state === 'releasing');
    if (releasing.length === 0) return;
    const [desired, status] = await Promise.all([this.store.desired.get(hostId), this.store.desired.status(hostId)]);
    const agentLifted = status?.status === 'applied' && status.appliedGeneration === desired.generation;
    for (const i of releasing) {
      const agentHeld = (await this.store.events.list(i.id)).some((e) => e.type === 'host_applied');
      if (agentLifted || !agentHeld) await this.record(i.id, { type: 'switch_released' });
    }
  }

  private async record(incidentId: string, event: IncidentEvent): Promise<void> {
    if (!this.deps.apply) return;
    try {
      await this.deps.apply(incidentId, event, ACTOR);
    } catch (err) {
      this.log.error({ incident: incidentId, event: event.type, err: asCordonError(err).message }, 'cannot record what the switch confirmed; next sweep');
    }
  }

  /**
   * A switch operation failed: recorded on the port (kind, message, since
   * when), retried after SwitchBackoff's delay, and told to the operator
   * once per kind of failure: an audit entry, an alert on each incident
   * that relies on the port, an error log.
   */
  private async failed(sw: HostSwitch, err: unknown, what: string, mine: Incident[]): Promise<void> {
    const e = asCordonError(err);
    const at = this.clock.now();
    const retryInMs = this.backoff.failed(sw, e.kind, at.getTime());
    this.log.error({ host: sw.hostId, switch: sw.target.switchId, kind: e.kind, err: e.message, retryInMs }, `${what}; retried later`);
    try {
      await this.store.db.transaction(async () => {
        if (!(await this.store.switches.markFailed(sw.hostId, e.kind, e.message, at))) return;
        const reason = `${what} on switch ${sw.target.switchId} (${e.kind}): ${e.message}; no cut or release is claimed through it; next try in ${Math.round(retryInMs / 1000)} s`;
        await this.store.audit.append({ at, actor: ACTOR, action: 'switch.failed', subject: sw.hostId, detail: { switch: sw.target.switchId, kind: e.kind, error: e.message } });
        for (const i of mine) {
          await this.store.events.append({ incidentId: i.id, at, type: 'alert', fromState: i.state, toState: i.state, actor: ACTOR, detail: { reason } });
        }
        this.log.error({ host: sw.hostId, reason }, 'ALERT');
      });
    } catch (recordErr) {
      this.log.error({ host: sw.hostId, err: asCordonError(recordErr).message }, 'cannot record the switch failure');
    }
  }
}
