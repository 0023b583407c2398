import type { SwitchTarget } from '../switch/SwitchDriver.js';
import { byIdChunks } from './byIdChunks.js';
import type { SqlDatabase } from './SqlDatabase.js';

export interface HostSwitch {
  hostId: string;
  target: SwitchTarget;
  /** Cordon shut this port and has not reopened it. */
  portDown: boolean;
  reason: string | undefined;
  changedAt: Date | undefined;
}

interface Row {
  host_id: string;
  target_json: string;
  port_down: number;
  reason: string | null;
  changed_at: number | null;
}

/** Each host's switch port (validated at import by validateSwitchInventory) and whether Cordon holds it down. */
export class SwitchesRepo {
  constructor(private readonly db: SqlDatabase) {}

  /** Sets the host's switch; a port Cordon holds down stays recorded as down. */
  async set(hostId: string, target: SwitchTarget): Promise<void> {
    await this.db.run(
      `INSERT INTO host_switches (host_id, target_json) VALUES (?, ?)
       ON CONFLICT (host_id) DO UPDATE SET target_json = excluded.target_json`,
      [hostId, JSON.stringify(target)],
    );
  }

  async list(): Promise<HostSwitch[]> {
    return (await this.db.all<Row>('SELECT * FROM host_switches ORDER BY host_id')).map(fromRow);
  }

  async get(hostId: string): Promise<HostSwitch | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM host_switches WHERE host_id = ?', [hostId]);
    return r ? fromRow(r) : undefined;
  }

  /** The switch ports of these hosts (those that have one), by host. */
  async getMany(hostIds: readonly string[]): Promise<Map<string, HostSwitch>> {
    const rows = await byIdChunks(hostIds, (ids, params) => this.db.all<Row>(`SELECT * FROM host_switches WHERE host_id IN (${ids})`, params));
    return new Map(rows.map((r) => [r.host_id, fromRow(r)]));
  }

  /**
   * Records the port's new state if it still reads as `wasDown` (what the
   * caller saw before acting); returns false when another controller
   * replica recorded a change meanwhile, so the change is recorded once.
   */
  async markPort(hostId: string, down: boolean, reason: string, at: Date, wasDown: boolean): Promise<boolean> {
    const { changes } = await this.db.run('UPDATE host_switches SET port_down = ?, reason = ?, changed_at = ? WHERE host_id = ? AND port_down = ?', [
      down ? 1 : 0,
      reason,
      at.getTime(),
      hostId,
      wasDown ? 1 : 0,
    ]);
    return changes === 1;
  }

  /** Hosts whose switch port Cordon holds down now (the fallback when the agent is gone). */
  async countPortsDown(): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM host_switches WHERE port_down = 1');
    return row?.n ?? 0;
  }
}

function fromRow(r: Row): HostSwitch {
  return {
    hostId: r.host_id,
    target: JSON.parse(r.target_json) as SwitchTarget,
    portDown: r.port_down === 1,
    reason: r.reason ?? undefined,
    changedAt: r.changed_at === null ? undefined : new Date(r.changed_at),
  };
}
