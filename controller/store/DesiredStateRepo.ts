import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Action } from '../incidents/model.js';
import { checkAction } from './checkAction.js';
import { byIdChunks } from './byIdChunks.js';
import type { SqlDatabase, SqlValue } from './SqlDatabase.js';
import { fromEpochMs, toEpochMs } from './epochMs.js';
import { nonEmpty, oneOf } from './validate.js';

/** The pushes' reads: one consistent view, which on PostgreSQL waits for no writer. */
const READ_ONLY = { readOnly: true } as const;

/** One action an incident holds on its host; `id` is `${incidentId}:${kind}`, stable while it holds it. */
export interface StoredEnforcement {
  id: string;
  incidentId: string;
  reason: string;
  action: Action;
}

/** A host's desired state: every action its incidents hold, and the generation that names this snapshot. */
export interface HostDesiredState {
  /** 0 until the host's first change; then grows by one per change. */
  generation: number;
  /** When the current generation was set. */
  issuedAt: Date | undefined;
  /** Ordered by incident id, then kind. */
  enforcements: StoredEnforcement[];
}

export const AGENT_STATUSES = ['pending', 'applied', 'failed', 'unreachable'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export interface AgentStatusReport {
  status: AgentStatus;
  appliedGeneration?: number | undefined;
  error?: string | undefined;
  at: Date;
}

export interface HostAgentStatus {
  status: AgentStatus;
  appliedGeneration: number | undefined;
  error: string | undefined;
  reportedAt: Date;
}

export interface SetActionsOptions {
  at: Date;
  /** Started by the policy rather than an operator: counts against the hourly cap. */
  automatic: boolean;
  /**
   * The caller inserted this incident, for this host, in the same
   * transaction: it holds nothing yet, so the reads that check its host and
   * what it holds are skipped (the (incident, host) foreign key still
   * refuses a mismatch). Mass actions open one incident per host.
   */
  freshIncident?: boolean;
}

/** What DesiredWrites queued, as DesiredStateRepo.writeQueued writes it (times in epoch ms, actions as their JSON). */
export interface QueuedDesiredRows {
  /** Rows an incident no longer holds: written first. */
  drops: { incidentId: string; kind: string }[];
  enforcements: { incidentId: string; hostId: string; kind: string; actionJson: string; reason: string; at: number }[];
  starts: { incidentId: string; hostId: string; kind: string; automatic: boolean; at: number }[];
  heads: { hostId: string; generation: number; at: number }[];
}

/**
 * Per host: the enforcements its incidents hold (table enforcements, keyed by
 * incident and kind), the generation of that set (host_desired), and what
 * its agent last reported (host_status). Each action kind an incident newly
 * takes on is also recorded in enforcement_starts, flagged automatic or not,
 * for the fleet-wide cap on automatic enforcements.
 */
export class DesiredStateRepo {
  constructor(private readonly db: SqlDatabase) {}

  /**
   * Replaces what `incidentId` holds on `hostId` with `actions` (at most one
   * per kind; empty removes them all) and returns the host's generation:
   * one more than before when anything changed (an action, its parameters,
   * or the reason), the same when nothing did, so a retried call does not
   * push a new snapshot. `refused` when the incident belongs to another host,
   * `not_found` when it does not exist, `invalid` names a bad field.
   */
  async setIncidentActions(hostId: string, incidentId: string, actions: Action[], reason: string, options: SetActionsOptions): Promise<number> {
    const at = toEpochMs(options.at, 'at');
    const wanted = new Map<string, string>();
    actions.forEach((a, i) => {
      const action = checkAction(a, `actions[${i}]`);
      if (wanted.has(action.kind)) throw new CordonError('invalid', `two ${action.kind} actions`, { field: `actions[${i}]` });
      wanted.set(action.kind, JSON.stringify(action));
    });
    if (actions.length > 0) nonEmpty(reason, 'reason');
    return this.db.transaction(async () => {
      let held: { kind: string; action_json: string; reason: string }[] = [];
      if (!options.freshIncident) {
        const incident = await this.db.get<{ host_id: string }>('SELECT host_id FROM incidents WHERE id = ?', [incidentId]);
        if (!incident) throw new CordonError('not_found', `no incident ${incidentId}`, { field: 'incidentId' });
        if (incident.host_id !== hostId) {
          throw new CordonError('refused', `incident ${incidentId} belongs to host ${incident.host_id}, not ${hostId}`, { field: 'hostId' });
        }
        held = await this.db.all<{ kind: string; action_json: string; reason: string }>('SELECT kind, action_json, reason FROM enforcements WHERE incident_id = ?', [incidentId]);
      }
      const same = held.length === wanted.size && held.every((h) => wanted.get(h.kind) === h.action_json && h.reason === reason);
      if (same) return this.generation(hostId);

      if (held.length > 0) {
        // An empty NOT IN () is SQLite's only: with nothing wanted, every kind goes.
        const keep = wanted.size === 0 ? '' : ` AND kind NOT IN (${[...wanted.keys()].map(() => '?').join(', ')})`;
        await this.db.run(`DELETE FROM enforcements WHERE incident_id = ?${keep}`, [
          incidentId,
          ...wanted.keys(),
        ]);
      }
      for (const [kind, json] of wanted) {
        // `since` keeps the first time the incident took this kind on.
        await this.db.run(
          `INSERT INTO enforcements (incident_id, host_id, kind, action_json, reason, since) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (incident_id, kind) DO UPDATE SET action_json = excluded.action_json, reason = excluded.reason`,
          [incidentId, hostId, kind, json, reason, at],
        );
        if (!held.some((h) => h.kind === kind)) {
          await this.db.run('INSERT INTO enforcement_starts (at, host_id, incident_id, kind, automatic) VALUES (?, ?, ?, ?, ?)', [
            at,
            hostId,
            incidentId,
            kind,
            options.automatic ? 1 : 0,
          ]);
        }
      }
      const row = await this.db.get<{ generation: number }>(
        `INSERT INTO host_desired (host_id, generation, issued_at) VALUES (?, 1, ?)
         ON CONFLICT (host_id) DO UPDATE SET generation = host_desired.generation + 1, issued_at = excluded.issued_at
         RETURNING generation`,
        [hostId, at],
      );
      return row!.generation;
    });
  }

  /**
   * Writes desired-state changes queued by a transaction (DesiredWrites):
   * the rows incidents dropped, the rows they hold now, the kinds they
   * newly took on (starts), and each host's new generation, as computed
   * from its last one. As few multi-row
   * statements as it takes; inside the caller's transaction. The
   * generation trigger still refuses a generation that does not grow.
   */
  async writeQueued(q: QueuedDesiredRows): Promise<void> {
    const many = async (head: string, shape: string, rows: readonly SqlValue[][], tail = '') => {
      const per = Math.floor(3000 / (rows[0]?.length ?? 1));
      for (let i = 0; i < rows.length; i += per) {
        const slice = rows.slice(i, i + per);
        await this.db.run(`${head} VALUES ${Array<string>(slice.length).fill(shape).join(', ')}${tail}`, slice.flat());
      }
    };
    for (let i = 0; i < q.drops.length; i += 500) {
      const slice = q.drops.slice(i, i + 500);
      await this.db.run(`DELETE FROM enforcements WHERE ${slice.map(() => '(incident_id = ? AND kind = ?)').join(' OR ')}`, slice.flatMap((d) => [d.incidentId, d.kind]));
    }
    await many(
      'INSERT INTO enforcements (incident_id, host_id, kind, action_json, reason, since)',
      '(?, ?, ?, ?, ?, ?)',
      q.enforcements.map((e) => [e.incidentId, e.hostId, e.kind, e.actionJson, e.reason, e.at]),
      ' ON CONFLICT (incident_id, kind) DO UPDATE SET action_json = excluded.action_json, reason = excluded.reason',
    );
    await many(
      'INSERT INTO enforcement_starts (at, host_id, incident_id, kind, automatic)',
      '(?, ?, ?, ?, ?)',
      q.starts.map((e) => [e.at, e.hostId, e.incidentId, e.kind, e.automatic ? 1 : 0]),
    );
    await many(
      'INSERT INTO host_desired (host_id, generation, issued_at)',
      '(?, ?, ?)',
      q.heads.map((h) => [h.hostId, h.generation, h.at]),
      ' ON CONFLICT (host_id) DO UPDATE SET generation = excluded.generation, issued_at = excluded.issued_at',
    );
  }

  /** The host's desired state; generation 0 and nothing held for a host never changed. */
  get(hostId: string): Promise<HostDesiredState> {
    // One transaction, so the generation and the rows belong together.
    return this.db.transaction(async () => {
      const head = await this.db.get<{ generation: number; issued_at: number }>('SELECT generation, issued_at FROM host_desired WHERE host_id = ?', [hostId]);
      const rows = await this.db.all<{ incident_id: string; kind: string; action_json: string; reason: string }>(
        'SELECT incident_id, kind, action_json, reason FROM enforcements WHERE host_id = ? ORDER BY incident_id, kind',
        [hostId],
      );
      return {
        generation: head?.generation ?? 0,
        issuedAt: fromEpochMs(head?.issued_at ?? null),
        enforcements: rows.map((r) => ({
          id: `${r.incident_id}:${r.kind}`,
          incidentId: r.incident_id,
          reason: r.reason,
          action: checkAction(JSON.parse(r.action_json), `enforcements[${r.incident_id}:${r.kind}]`, 'internal'),
        })),
      };
    }, READ_ONLY);
  }

  /**
   * `get` for many hosts at once (the fleet page): one transaction, two
   * queries per 1,000 hosts. Every asked host is in the map; one never
   * changed has generation 0 and nothing held.
   */
  getMany(hostIds: readonly string[]): Promise<Map<string, HostDesiredState>> {
    return this.db.transaction(async () => {
      const out = new Map<string, HostDesiredState>(hostIds.map((h) => [h, { generation: 0, issuedAt: undefined, enforcements: [] }]));
      const heads = await byIdChunks(hostIds, (ids, params) =>
        this.db.all<{ host_id: string; generation: number; issued_at: number }>(`SELECT host_id, generation, issued_at FROM host_desired WHERE host_id IN (${ids})`, params),
      );
      for (const h of heads) Object.assign(out.get(h.host_id)!, { generation: h.generation, issuedAt: fromEpochMs(h.issued_at) });
      const rows = await byIdChunks(hostIds, (ids, params) =>
        this.db.all<{ host_id: string; incident_id: string; kind: string; action_json: string; reason: string }>(
          `SELECT host_id, incident_id, kind, action_json, reason FROM enforcements WHERE host_id IN (${ids}) ORDER BY host_id, incident_id, kind`,
          params,
        ),
      );
      for (const r of rows) {
        out.get(r.host_id)!.enforcements.push({
          id: `${r.incident_id}:${r.kind}`,
          incidentId: r.incident_id,
          reason: r.reason,
          action: checkAction(JSON.parse(r.action_json), `enforcements[${r.incident_id}:${r.kind}]`, 'internal'),
        });
      }
      return out;
    }, READ_ONLY);
  }

  /** `status` for many hosts at once; hosts with no recorded report are absent. */
  async statusMany(hostIds: readonly string[]): Promise<Map<string, HostAgentStatus>> {
    const rows = await byIdChunks(hostIds, (ids, params) =>
      this.db.all<{ host_id: string; status: string; applied_generation: number | null; error: string | null; reported_at: number }>(
        `SELECT host_id, status, applied_generation, error, reported_at FROM host_status WHERE host_id IN (${ids})`,
        params,
      ),
    );
    return new Map(
      rows.map((r) => [
        r.host_id,
        {
          status: oneOf(r.status, AGENT_STATUSES, `host_status[${r.host_id}].status`, 'internal'),
          appliedGeneration: r.applied_generation ?? undefined,
          error: r.error ?? undefined,
          reportedAt: new Date(r.reported_at),
        },
      ]),
    );
  }

  /** The desired generation of each of these hosts that has one (a host never restricted has none). */
  async generations(hostIds: readonly string[]): Promise<Map<string, number>> {
    const rows = await byIdChunks(hostIds, (ids, params) =>
      this.db.all<{ host_id: string; generation: number }>(`SELECT host_id, generation FROM host_desired WHERE host_id IN (${ids})`, params),
    );
    return new Map(rows.map((r) => [r.host_id, r.generation]));
  }

  /** Records the agent's latest report for the host (replacing the previous one). */
  async recordStatus(hostId: string, report: AgentStatusReport): Promise<void> {
    const g = report.appliedGeneration;
    if (g !== undefined && (!Number.isSafeInteger(g) || g < 0)) throw new CordonError('invalid', 'must be a non-negative integer', { field: 'appliedGeneration' });
    await this.db.run(
      `INSERT INTO host_status (host_id, status, applied_generation, error, reported_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (host_id) DO UPDATE SET status = excluded.status, applied_generation = excluded.applied_generation,
         error = excluded.error, reported_at = excluded.reported_at`,
      [hostId, oneOf(report.status, AGENT_STATUSES, 'status'), g ?? null, report.error ?? null, toEpochMs(report.at, 'at')],
    );
  }

  /** `recordStatus` for many hosts (each once), in one statement per 500. */
  async recordStatusMany(reports: readonly { hostId: string; report: AgentStatusReport }[]): Promise<void> {
    const rows = reports.map(({ hostId, report }) => {
      const g = report.appliedGeneration;
      if (g !== undefined && (!Number.isSafeInteger(g) || g < 0)) throw new CordonError('invalid', 'must be a non-negative integer', { field: 'appliedGeneration' });
      return [hostId, oneOf(report.status, AGENT_STATUSES, 'status'), g ?? null, report.error ?? null, toEpochMs(report.at, 'at')];
    });
    for (let i = 0; i < rows.length; i += 500) {
      const slice = rows.slice(i, i + 500);
      await this.db.run(
        `INSERT INTO host_status (host_id, status, applied_generation, error, reported_at) VALUES ${slice.map(() => '(?, ?, ?, ?, ?)').join(', ')}
         ON CONFLICT (host_id) DO UPDATE SET status = excluded.status, applied_generation = excluded.applied_generation,
           error = excluded.error, reported_at = excluded.reported_at`,
        slice.flat(),
      );
    }
  }

  /** The agent's last report, or undefined if none was recorded. */
  async status(hostId: string): Promise<HostAgentStatus | undefined> {
    const r = await this.db.get<{ status: string; applied_generation: number | null; error: string | null; reported_at: number }>(
      'SELECT status, applied_generation, error, reported_at FROM host_status WHERE host_id = ?',
      [hostId],
    );
    if (!r) return undefined;
    return {
      status: oneOf(r.status, AGENT_STATUSES, `host_status[${hostId}].status`, 'internal'),
      appliedGeneration: r.applied_generation ?? undefined,
      error: r.error ?? undefined,
      reportedAt: new Date(r.reported_at),
    };
  }

  /** Automatic enforcement starts (one per action kind an incident newly took on) at or after `t`, fleet-wide. */
  async countAutomaticSince(t: Date): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM enforcement_starts WHERE automatic = 1 AND at >= ?', [toEpochMs(t, 't')]);
    return row?.n ?? 0;
  }

  /** What each of these incidents holds (every asked incident is in the map), with the host each row is on. */
  async heldByIncidents(incidentIds: readonly string[]): Promise<Map<string, { hostId: string; kind: string; actionJson: string; reason: string }[]>> {
    const out = new Map<string, { hostId: string; kind: string; actionJson: string; reason: string }[]>(incidentIds.map((id) => [id, []]));
    const rows = await byIdChunks(incidentIds, (ids, params) =>
      this.db.all<{ incident_id: string; host_id: string; kind: string; action_json: string; reason: string }>(
        `SELECT incident_id, host_id, kind, action_json, reason FROM enforcements WHERE incident_id IN (${ids})`,
        params,
      ),
    );
    for (const r of rows) out.get(r.incident_id)?.push({ hostId: r.host_id, kind: r.kind, actionJson: r.action_json, reason: r.reason });
    return out;
  }

  /** Whether the incident's latest action start was automatic; undefined when it never took an action. */
  async lastStartAutomatic(incidentId: string): Promise<boolean | undefined> {
    const row = await this.db.get<{ automatic: number }>('SELECT automatic FROM enforcement_starts WHERE incident_id = ? ORDER BY id DESC LIMIT 1', [incidentId]);
    return row === undefined ? undefined : row.automatic === 1;
  }

  private async generation(hostId: string): Promise<number> {
    const row = await this.db.get<{ generation: number }>('SELECT generation FROM host_desired WHERE host_id = ?', [hostId]);
    return row?.generation ?? 0;
  }

  /** The customer's hosts, each with whether any incident holds an enforcement on it now. */
  async customerHosts(customerId: string): Promise<{ hostId: string; restricted: boolean }[]> {
    const rows = await this.db.all<{ id: string; restricted: number }>(
      'SELECT h.id, EXISTS (SELECT 1 FROM enforcements e WHERE e.host_id = h.id) AS restricted FROM hosts h WHERE h.customer_id = ? ORDER BY h.id',
      [customerId],
    );
    return rows.map((r) => ({ hostId: r.id, restricted: r.restricted === 1 }));
  }

  /** `customerHosts` for many customers: every asked customer is in the map. */
  async customerHostsMany(customerIds: readonly string[]): Promise<Map<string, { hostId: string; restricted: boolean }[]>> {
    const out = new Map<string, { hostId: string; restricted: boolean }[]>(customerIds.map((c) => [c, []]));
    if (customerIds.length === 0) return out;
    const rows = await byIdChunks(customerIds, (list, params) =>
      this.db.all<{ id: string; customer_id: string; restricted: number }>(
        `SELECT h.id, h.customer_id, EXISTS (SELECT 1 FROM enforcements e WHERE e.host_id = h.id) AS restricted FROM hosts h WHERE h.customer_id IN (${list}) ORDER BY h.id`,
        params,
      ),
    );
    for (const r of rows) out.get(r.customer_id)?.push({ hostId: r.id, restricted: r.restricted === 1 });
    return out;
  }

  /**
   * Restrictions in force: hosts carrying at least one enforcement, and per
   * action kind how many hosts carry it (a host with two kinds counts under
   * both, once in `hosts`). Reads only the enforcements table, which holds
   * what is in force now, never history.
   */
  async restrictedHosts(): Promise<{ hosts: number; byKind: Map<string, number> }> {
    const rows = await this.db.all<{ kind: string; n: number }>('SELECT kind, COUNT(DISTINCT host_id) AS n FROM enforcements GROUP BY kind');
    const total = await this.db.get<{ n: number }>('SELECT COUNT(DISTINCT host_id) AS n FROM enforcements');
    return { hosts: total?.n ?? 0, byKind: new Map(rows.map((r) => [r.kind, r.n])) };
  }
}
