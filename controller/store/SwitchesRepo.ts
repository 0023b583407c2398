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
  /** When the switch last read back the state Cordon holds (after a change, or a later check). */
  confirmedAt: Date | undefined;
  /** The switch's latest failure since it last confirmed, if any: kind (CordonError), message, since when. */
  failure: { kind: string; error: string; since: Date } | undefined;
}

interface Row {
  host_id: string;
  target_json: string;
  port_down: number;
  reason: string | null;
  changed_at: number | null;
  confirmed_at: number | null;
  error: string | null;
  error_kind: string | null;
  error_since: number | null;
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
    const { changes } = await this.db.run(
      'UPDATE host_switches SET port_down = ?, reason = ?, changed_at = ?, confirmed_at = ?, error = NULL, error_kind = NULL, error_since = NULL WHERE host_id = ? AND port_down = ?',
      [down ? 1 : 0, reason, at.getTime(), at.getTime(), hostId, wasDown ? 1 : 0],
    );
    return changes === 1;
  }

  /** The switch read back the state Cordon holds: confirmed now, any failure over. */
  async markConfirmed(hostId: string, at: Date): Promise<void> {
    await this.db.run('UPDATE host_switches SET confirmed_at = ?, error = NULL, error_kind = NULL, error_since = NULL WHERE host_id = ?', [at.getTime(), hostId]);
  }

  /**
   * The switch could not be reached, refused, or did not confirm: records the
   * failure, keeping when the failures began. Returns true when this is a new
   * failure (none before, or of another kind), for the operator to be told once.
   */
  async markFailed(hostId: string, kind: string, error: string, at: Date): Promise<boolean> {
    const before = await this.get(hostId);
    await this.db.run('UPDATE host_switches SET error = ?, error_kind = ?, error_since = COALESCE(error_since, ?) WHERE host_id = ?', [
      error.slice(0, 2000),
      kind,
      at.getTime(),
      hostId,
    ]);
    return before?.failure?.kind !== kind;
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
    confirmedAt: r.confirmed_at === null ? undefined : new Date(Number(r.confirmed_at)),
    failure: r.error === null ? undefined : { kind: r.error_kind ?? 'unknown', error: r.error, since: new Date(Number(r.error_since)) },
  };
}
