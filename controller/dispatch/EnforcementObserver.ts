import type { AgentSessions } from '../agents/SessionRegistry.js';
import type { TamperLog } from '../agents/TamperLog.js';
import { CUT_ACTIONS } from '../incidents/model.js';
import { observeEnforcement, type EnforcementObservation, type ObservedEnforcement } from '../incidents/observeEnforcement.js';
import type { HostAgentStatus, HostDesiredState } from '../store/DesiredStateRepo.js';
import type { Store } from '../store/Store.js';
import type { HostSwitch } from '../store/SwitchesRepo.js';

/** What a caller already read of some hosts, so observing them reads nothing more. */
export interface ObserverReads {
  desired: Map<string, HostDesiredState>;
  status: Map<string, HostAgentStatus>;
  ports: Map<string, HostSwitch>;
}

/**
 * Gathers, for observeEnforcement, the facts the controller holds about
 * hosts (desired state, the agent's last report, its link, its tamper
 * reports, the switch port's last word) and returns what is observed. The
 * desk, the CLI's views, the metrics and the switch fallback read the same
 * answer from here.
 */
export class EnforcementObserver {
  constructor(
    private readonly store: Store,
    private readonly sessions: AgentSessions,
    private readonly clock: () => Date,
    private readonly watchingSince: Date,
    /** Tamper reports (absent: no run ever counted). */
    private readonly tampers: TamperLog | undefined,
    /** Whether the switch fallback runs: without it a port is never Cordon's to hold. */
    private readonly switchFallback: boolean,
  ) {}

  async observe(hostId: string): Promise<EnforcementObservation> {
    return (await this.observeMany([hostId])).get(hostId)!;
  }

  /** Every host in `hostIds`, by id; `loaded`: what the caller already read of them (the fleet page), not read again. */
  async observeMany(hostIds: readonly string[], loaded?: ObserverReads): Promise<Map<string, EnforcementObservation>> {
    const [desired, status, allPorts] = loaded
      ? [loaded.desired, loaded.status, loaded.ports]
      : await Promise.all([
          this.store.desired.getMany(hostIds),
          this.store.desired.statusMany(hostIds),
          this.switchFallback ? this.store.switches.getMany(hostIds) : Promise.resolve(new Map<string, HostSwitch>()),
        ]);
    const ports = this.switchFallback ? allPorts : new Map<string, HostSwitch>();
    const out = new Map<string, EnforcementObservation>();
    for (const hostId of hostIds) {
      const d = desired.get(hostId) ?? { generation: 0, issuedAt: undefined, enforcements: [] };
      const s = status.get(hostId);
      const link = this.sessions.get(hostId);
      const port = ports.get(hostId);
      out.set(
        hostId,
        observeEnforcement({
          generation: d.generation,
          issuedAt: d.issuedAt,
          restricts: d.enforcements.length > 0,
          cuts: d.enforcements.some((e) => CUT_ACTIONS.includes(e.action.kind)),
          report: s ? { status: s.status, appliedGeneration: s.appliedGeneration, error: s.error, at: s.reportedAt } : undefined,
          link: link
            ? { state: link.state, connectedSince: link.connectedSince, lastHeartbeat: link.lastHeartbeat, disconnectedAt: link.disconnectedAt, disconnectReason: link.disconnectReason }
            : undefined,
          watchingSince: this.watchingSince,
          tampers: { at: this.tampers?.recent(hostId) ?? [], threshold: this.tampers?.threshold ?? 0 },
          port: port ? { down: port.portDown, changedAt: port.changedAt, confirmedAt: port.confirmedAt, failure: port.failure } : undefined,
        }),
      );
    }
    return out;
  }

  /** Every host with a desired state (generation > 0): what the metrics count. */
  async observeAll(): Promise<Map<string, EnforcementObservation>> {
    const rows = await this.store.db.all<{ host_id: string }>('SELECT host_id FROM host_desired WHERE generation > 0');
    return this.observeMany(rows.map((r) => r.host_id));
  }

  /** How many hosts are in each observed state (never `none`), and since when the oldest unconfirmed one waits. */
  async counts(): Promise<{ byState: Record<ObservedEnforcement, number>; oldestUnconfirmed: Date | undefined }> {
    const all = await this.observeAll();
    const byState = { none: 0, confirmed: 0, switch_only: 0, unconfirmed: 0, lifting: 0 };
    let oldest: Date | undefined;
    for (const o of all.values()) {
      byState[o.observed]++;
      if ((o.observed === 'unconfirmed' || o.observed === 'lifting') && o.since && (!oldest || o.since < oldest)) oldest = o.since;
    }
    return { byState, oldestUnconfirmed: oldest };
  }
}
