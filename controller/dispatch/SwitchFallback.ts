import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { AgentSessions } from '../agents/SessionRegistry.js';
import type { Clock } from '../clock.js';
import { CUT_ACTIONS } from '../incidents/model.js';
import type { Store } from '../store/Store.js';
import type { HostSwitch } from '../store/SwitchesRepo.js';
import type { SwitchDriver } from '../switch/SwitchDriver.js';

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

/**
 * The network-side fallback. A customer can stop the agent on their server;
 * so when a host should be cut (ISOLATE or NIC_DOWN in its desired state)
 * and its agent has been silent past the window, or keeps reporting
 * tampering, the controller shuts the host's public port on its access
 * switch. When the host no longer should be cut (release, dismissal), it
 * reopens the port. Level-based: every sweep compares what should be with
 * what the store says Cordon did, so a failed SSH call is retried.
 * Every change is recorded on the host's cutting incidents and in the audit log.
 */
export class SwitchFallback {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly tampers = new Map<string, number[]>();
  private readonly verified = new Map<string, number>();
  private readonly startedAt: Date;

  constructor(
    private readonly store: Store,
    private readonly driver: SwitchDriver,
    private readonly sessions: AgentSessions,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly settings: SwitchFallbackSettings,
  ) {
    this.startedAt = clock.now();
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.settings.sweepMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Counts a tamper report from a host's agent. */
  onTamper(hostId: string): void {
    const list = this.tampers.get(hostId) ?? [];
    list.push(this.clock.now().getTime());
    this.tampers.set(hostId, list);
    this.kick();
  }

  kick(): void {
    this.running = this.running.then(() => this.sweep()).catch((err: unknown) => this.log.error({ err: asCordonError(err).message }, 'switch sweep failed'));
  }

  /** One pass over every host with a switch port. */
  async sweep(): Promise<void> {
    for (const sw of await this.store.switches.list()) {
      const desired = await this.store.desired.get(sw.hostId);
      const cut = desired.enforcements.some((e) => CUT_ACTIONS.includes(e.action.kind));
      if (cut && !sw.portDown) {
        const why = this.reasonToCut(sw.hostId);
        if (why) await this.setPort(sw, false, why);
      } else if (!cut && sw.portDown) {
        await this.setPort(sw, true, 'the host no longer should be cut');
      } else if (cut && sw.portDown) {
        await this.verifyStillDown(sw);
      }
    }
  }

  /**
   * A port Cordon shut can come back up (a switch reboot drops the running
   * configuration, someone typed `no shutdown`): read it back now and then,
   * not on every sweep, and shut it again.
   */
  private async verifyStillDown(sw: HostSwitch): Promise<void> {
    const now = this.clock.now().getTime();
    if (now - (this.verified.get(sw.hostId) ?? 0) < VERIFY_EVERY_MS) return;
    this.verified.set(sw.hostId, now);
    try {
      const state = await this.driver.readPort(sw.target);
      if (state.adminUp === true) await this.setPort(sw, false, 'the port Cordon shut was found up again');
    } catch (err) {
      this.log.warn({ host: sw.hostId, err: asCordonError(err).message }, 'cannot read back the switch port');
    }
  }

  private reasonToCut(hostId: string): string | undefined {
    const now = this.clock.now().getTime();
    const s = this.sessions.get(hostId);
    const lastSign = s ? (s.disconnectedAt ?? (s.state === 'stale' ? s.lastHeartbeat : undefined)) : this.startedAt;
    if (lastSign && now - lastSign.getTime() > this.settings.silentSeconds * 1000) {
      return `agent silent for ${Math.round((now - lastSign.getTime()) / 1000)} s (window ${this.settings.silentSeconds} s)`;
    }
    const recent = (this.tampers.get(hostId) ?? []).filter((t) => now - t <= this.settings.tamperWindowSeconds * 1000);
    this.tampers.set(hostId, recent);
    if (recent.length >= this.settings.tamperThreshold) {
      return `${recent.length} tamper reports within ${this.settings.tamperWindowSeconds} s`;
    }
    return undefined;
  }

  private async setPort(sw: HostSwitch, up: boolean, reason: string): Promise<void> {
    const at = this.clock.now();
    try {
      const state = await this.driver.setPort(sw.target, up);
      const recorded = await this.store.db.transaction(async () => {
        // Replicas sweep the same ports: the one that records the change first audits it; the others' (idempotent) switch call stays unrecorded.
        if (!(await this.store.switches.markPort(sw.hostId, !up, reason, at, sw.portDown))) return false;
        const detail = { switch: sw.target.switchId, port: state.port, adminUp: state.adminUp, reason };
        await this.store.audit.append({ at, actor: 'switch-fallback', action: up ? 'switch.port_up' : 'switch.port_down', subject: sw.hostId, detail });
        if (!up) {
          // Which path enforces is part of each cutting incident's history.
          const cutting = (await this.store.incidents.list({ hostId: sw.hostId, limit: 1000 })).filter((i) => i.actions.some((a) => CUT_ACTIONS.includes(a.kind)));
          for (const i of cutting) {
            await this.store.events.append({ incidentId: i.id, at, type: 'switch_port_down', fromState: i.state, toState: i.state, actor: 'switch-fallback', detail });
          }
        }
        return true;
      });
      if (!recorded) return;
      this.log.warn({ host: sw.hostId, switch: sw.target.switchId, port: state.port, up, reason }, up ? 'switch port reopened' : 'switch port shut: enforcing through the network');
    } catch (err) {
      this.log.error({ host: sw.hostId, switch: sw.target.switchId, err: asCordonError(err).message }, 'switch port change failed; retried next sweep');
    }
  }
}
