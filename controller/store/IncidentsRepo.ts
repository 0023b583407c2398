import { CordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import { INCIDENT_STATES, type Category, type Incident, type IncidentState } from '../incidents/model.js';
import type { SqlDatabase, SqlValue } from './SqlDatabase.js';
import { toEpochMs } from './epochMs.js';
import { INCIDENT_COLUMNS, INCIDENT_NUMBER_COLUMNS, incidentFromRow, incidentParams, type IncidentRow } from './incidentRow.js';
import { oneOf } from './validate.js';
import { byIdChunks } from './byIdChunks.js';

/** Must read exactly as the WHERE of the `incidents_one_open` index, so SQLite uses it. */
/** What counts toward a termination review. */
const ESTABLISHED = "established = 1 AND state <> 'dismissed' AND opened_by = 'complaint'";
/** Open for complaints: term for term the WHERE of the one-open index (migration 14). */
const OPEN = "state NOT IN ('closed', 'dismissed', 'released', 'releasing')";
/** What identifies an incident's row and never changes. */
const IMMUTABLE = ['id', 'host_id', 'customer_id', 'category', 'opened_at'];
/** Incidents per multi-row UPDATE: 26 parameters each. */
const UPDATE_ROWS = 250;

/** An incident's next deadline, for the scheduler. */
export interface DueIncident {
  id: string;
  dueAt: Date;
}

export interface IncidentQuery {
  state?: IncidentState;
  hostId?: string;
  customerId?: string;
  /** At most this many, newest opened first; default 100, at most 1000. */
  limit?: number;
}

/**
 * Incidents, one row each, mapped to and from the model's `Incident` exactly
 * (Dates, the actions list, undefined for NULL). Beside each incident the row
 * keeps `next_due_at`, the time its clock next fires (lifecycle.nextDueAt),
 * which the caller passes on every write: the scheduler reads only that.
 *
 * At most one incident per host and category is open (not closed, dismissed
 * or released): a unique partial index guarantees it even against a caller
 * that skips findOpen.
 */
export class IncidentsRepo {
  constructor(private readonly db: SqlDatabase) {}

  /**
   * Stores a new incident. `conflict` if the id exists or the host already
   * has an open incident of that category (named); `not_found` if the host
   * does not exist; `invalid` names a bad field.
   */
  async insert(incident: Incident, nextDueAt: Date | undefined): Promise<void> {
    const params = incidentParams(incident, nextDueAt);
    const names = INCIDENT_COLUMNS.split(', ');
    try {
      await this.db.run(`INSERT INTO incidents (${INCIDENT_COLUMNS}) VALUES (${names.map((n) => `$${n}`).join(', ')})`, params);
    } catch (err) {
      // The constraints (primary key, the host's foreign key, incidents_one_open) refused it: say which, by name.
      if (!isCordonError(err, 'conflict')) throw err;
      if (await this.db.get('SELECT 1 FROM incidents WHERE id = ?', [incident.id])) {
        throw new CordonError('conflict', `incident ${incident.id} already exists`, { field: 'id' });
      }
      if (!(await this.db.get('SELECT 1 FROM hosts WHERE id = ?', [incident.hostId]))) {
        throw new CordonError('not_found', `no host ${incident.hostId}`, { field: 'hostId' });
      }
      const open = await this.findOpen(incident.hostId, incident.category, incident.openedBy);
      if (open) {
        const by = incident.openedBy === 'operator' ? ' opened by an operator' : '';
        throw new CordonError('conflict', `host ${incident.hostId} already has open ${incident.category} incident ${open.id}${by}`, { field: 'category' });
      }
      throw err;
    }
  }

  /**
   * `insert` for many new incidents, in one statement per UPDATE_ROWS
   * (those that end closed first, as in updateMany). A statement the
   * constraints refuse is undone (a savepoint) and its rows inserted one by
   * one, so the error names the incident and the reason, as `insert`'s does.
   */
  async insertMany(items: readonly { incident: Incident; nextDueAt: Date | undefined }[]): Promise<void> {
    if (items.length < 2) {
      for (const u of items) await this.insert(u.incident, u.nextDueAt);
      return;
    }
    const columns = INCIDENT_COLUMNS.split(', ');
    const ends = (u: (typeof items)[number]) => (['closed', 'dismissed', 'released', 'releasing'].includes(u.incident.state) ? 0 : 1);
    const ordered = [...items].sort((a, b) => ends(a) - ends(b));
    for (let i = 0; i < ordered.length; i += UPDATE_ROWS) {
      const slice = ordered.slice(i, i + UPDATE_ROWS);
      const params = slice.flatMap((u) => {
        const named = incidentParams(u.incident, u.nextDueAt);
        return columns.map((c) => named[`$${c}`]!);
      });
      const row = `(${columns.map(() => '?').join(', ')})`;
      try {
        await this.db.transaction(() => this.db.run(`INSERT INTO incidents (${INCIDENT_COLUMNS}) VALUES ${Array<string>(slice.length).fill(row).join(', ')}`, params));
      } catch (err) {
        if (!isCordonError(err, 'conflict')) throw err;
        for (const u of slice) await this.insert(u.incident, u.nextDueAt);
        throw err; // the constraint refused something the rows one by one did not show: say what the engine said
      }
    }
  }

  /**
   * Writes an incident's changed fields. Host, customer, category and
   * openedAt never change: a write that changes them is `invalid`;
   * an unknown id is `not_found`.
   */
  async update(incident: Incident, nextDueAt: Date | undefined): Promise<void> {
    const params = incidentParams(incident, nextDueAt);
    const mutable = INCIDENT_COLUMNS.split(', ').filter((c) => !IMMUTABLE.includes(c));
    const { changes } = await this.db.run(
      `UPDATE incidents SET ${mutable.map((c) => `${c} = $${c}`).join(', ')}
       WHERE id = $id AND host_id = $host_id AND customer_id = $customer_id AND category = $category AND opened_at = $opened_at`,
      params,
    );
    if (changes === 1) return;
    if (await this.get(incident.id)) {
      throw new CordonError('invalid', `incident ${incident.id}: host, customer, category and openedAt never change`, { field: 'id' });
    }
    throw new CordonError('not_found', `no incident ${incident.id}`, { field: 'id' });
  }

  /**
   * `update` for many incidents (each id once), in one statement per
   * UPDATE_ROWS (two when some end closed and some open): an UPDATE joined
   * to a VALUES list, whose columns are named
   * column1… on both engines. When fewer rows changed than given (an
   * unknown id, a changed host), the chunk is written again one by one,
   * which throws `update`'s error for the culprit (inside the caller's
   * transaction, which then rolls back).
   */
  async updateMany(items: readonly { incident: Incident; nextDueAt: Date | undefined }[]): Promise<void> {
    if (items.length < 2) {
      for (const u of items) await this.update(u.incident, u.nextDueAt);
      return;
    }
    const columns = INCIDENT_COLUMNS.split(', ');
    const value = (c: string) => `v.column${columns.indexOf(c) + 1}`;
    const typed = this.db.dialect === 'postgresql' ? (c: string) => (INCIDENT_NUMBER_COLUMNS.has(c) ? 'CAST(? AS BIGINT)' : '?') : () => '?';
    const row = `(${columns.map(typed).join(', ')})`;
    const mutable = columns.filter((c) => !IMMUTABLE.includes(c));
    // SQLite checks incidents_one_open row by row: rows that end closed go first, so a row that ends open never meets one still open in the table.
    const ends = (u: (typeof items)[number]) => (['closed', 'dismissed', 'released', 'releasing'].includes(u.incident.state) ? 0 : 1);
    const ordered = [...items].sort((a, b) => ends(a) - ends(b));
    for (let i = 0; i < ordered.length; i += UPDATE_ROWS) {
      const slice = ordered.slice(i, i + UPDATE_ROWS);
      if (ends(slice[0]!) !== ends(slice.at(-1)!)) {
        // A chunk that spans both: cut at the first row that ends open.
        const cut = slice.findIndex((u) => ends(u) === 1);
        await this.updateMany(slice.slice(0, cut));
        await this.updateMany(slice.slice(cut));
        continue;
      }
      const params = slice.flatMap((u) => {
        const named = incidentParams(u.incident, u.nextDueAt);
        return columns.map((c) => named[`$${c}`]!);
      });
      const { changes } = await this.db.run(
        `UPDATE incidents SET ${mutable.map((c) => `${c} = ${value(c)}`).join(', ')}
         FROM (VALUES ${Array<string>(slice.length).fill(row).join(', ')}) AS v
         WHERE ${IMMUTABLE.map((c) => `incidents.${c} = ${value(c)}`).join(' AND ')}`,
        params,
      );
      if (changes !== slice.length) for (const u of slice) await this.update(u.incident, u.nextDueAt);
    }
  }

  /**
   * Inside a transaction: takes the incident's row for this transaction, or
   * returns false when another transaction (another replica) holds it now.
   * SQLite has one writer, so there it is always true. For work any replica
   * may do and one should (a deadline): the one that gets the row does it.
   */
  async claim(id: string): Promise<boolean> {
    if (this.db.dialect === 'sqlite') return true;
    return (await this.db.get('SELECT id FROM incidents WHERE id = ? FOR UPDATE SKIP LOCKED', [id])) !== undefined;
  }

  /**
   * `claim` for many at once: the ids whose rows this transaction now holds
   * (on SQLite, all of them), in one query per 1,000.
   */
  async claimMany(ids: readonly string[]): Promise<Set<string>> {
    if (this.db.dialect === 'sqlite' || ids.length === 0) return new Set(ids);
    const rows = await byIdChunks(ids, (list, params) => this.db.all<{ id: string }>(`SELECT id FROM incidents WHERE id IN (${list}) FOR UPDATE SKIP LOCKED`, params));
    return new Set(rows.map((r) => r.id));
  }

  /** The incidents of these ids that exist, by id. */
  async getMany(ids: readonly string[]): Promise<Map<string, Incident>> {
    if (ids.length === 0) return new Map();
    const rows = await byIdChunks(ids, (list, params) => this.db.all<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id IN (${list})`, params));
    return new Map(rows.map((r) => [r.id, incidentFromRow(r)]));
  }

  /** The incidents of these hosts in these states, oldest first. */
  async listForHosts(hostIds: readonly string[], states: readonly IncidentState[]): Promise<Incident[]> {
    if (hostIds.length === 0 || states.length === 0) return [];
    const wanted = states.map((st) => oneOf(st, INCIDENT_STATES, 'states'));
    const rows = await byIdChunks(hostIds, (list, params) =>
      this.db.all<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE host_id IN (${list}) AND state IN (${wanted.map(() => '?').join(', ')})`, [...params, ...wanted]),
    );
    return rows.map(incidentFromRow).sort((a, b) => a.openedAt.getTime() - b.openedAt.getTime() || (a.id < b.id ? -1 : 1));
  }

  async get(id: string): Promise<Incident | undefined> {
    const row = await this.db.get<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = ?`, [id]);
    return row && incidentFromRow(row);
  }

  /**
   * The host's open incident of this category opened by complaints (where a
   * new complaint goes) or by an operator's own action (where the next such
   * action goes), if any: the two never share an incident.
   */
  async findOpen(hostId: string, category: Category, openedBy: Incident['openedBy'] = 'complaint'): Promise<Incident | undefined> {
    const row = await this.db.get<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE host_id = ? AND category = ? AND opened_by = ? AND ${OPEN}`, [
      hostId,
      category,
      openedBy,
    ]);
    return row && incidentFromRow(row);
  }

  /** The open incidents of these hosts, any category, in one query per 1,000 hosts. */
  async findOpenForHosts(hostIds: readonly string[]): Promise<Incident[]> {
    const out: Incident[] = [];
    for (let i = 0; i < hostIds.length; i += 1000) {
      const slice = hostIds.slice(i, i + 1000);
      const size = Math.max(16, 2 ** Math.ceil(Math.log2(slice.length)));
      const rows = await this.db.all<IncidentRow>(
        `SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE host_id IN (${Array(size).fill('?').join(', ')}) AND ${OPEN}`,
        [...slice, ...Array<string>(size - slice.length).fill(slice[0]!)],
      );
      out.push(...rows.map(incidentFromRow));
    }
    return out;
  }

  /** Incidents matching every given filter, newest opened first. */
  async list(query: IncidentQuery = {}): Promise<Incident[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (query.state !== undefined) {
      where.push('state = ?');
      params.push(oneOf(query.state, INCIDENT_STATES, 'state'));
    }
    if (query.hostId !== undefined) {
      where.push('host_id = ?');
      params.push(query.hostId);
    }
    if (query.customerId !== undefined) {
      where.push('customer_id = ?');
      params.push(query.customerId);
    }
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CordonError('invalid', 'must be an integer from 1 to 1000', { field: 'limit' });
    const rows = await this.db.all<IncidentRow>(
      `SELECT ${INCIDENT_COLUMNS} FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY opened_at DESC, id DESC LIMIT ?`,
      [...params, limit],
    );
    return rows.map(incidentFromRow);
  }

  /**
   * The customer's established incidents opened at or after `since` (the
   * recidivism window): only these count toward a termination review
   * (see lifecycle settleEstablished). Dismissed and operator-opened never count.
   */
  async establishedForCustomerSince(customerId: string, since: Date): Promise<string[]> {
    const rows = await this.db.all<{ id: string }>(
      `SELECT id FROM incidents WHERE customer_id = ? AND opened_at >= ? AND ${ESTABLISHED} ORDER BY opened_at, id`,
      [customerId, toEpochMs(since, 'since')],
    );
    return rows.map((r) => r.id);
  }

  /** How many established incidents each customer has since `since`, in one query per 1,000. */
  async countEstablishedForCustomersSince(customerIds: readonly string[], since: Date): Promise<Map<string, number>> {
    const out = new Map<string, number>(customerIds.map((id) => [id, 0]));
    for (let i = 0; i < customerIds.length; i += 1000) {
      const slice = customerIds.slice(i, i + 1000);
      const size = Math.max(16, 2 ** Math.ceil(Math.log2(slice.length)));
      const rows = await this.db.all<{ customer_id: string; n: number }>(
        `SELECT customer_id, COUNT(*) AS n FROM incidents WHERE customer_id IN (${Array(size).fill('?').join(', ')}) AND opened_at >= ? AND ${ESTABLISHED} GROUP BY customer_id`,
        [...slice, ...Array<string>(size - slice.length).fill(slice[0]!), toEpochMs(since, 'since')],
      );
      for (const r of rows) out.set(r.customer_id, r.n);
    }
    return out;
  }

  /**
   * When the host's last finished incident of this category was resolved
   * (closed, dismissed, or released after the customer's fix), and which;
   * undefined when none finished. A complaint about an earlier event is
   * about what was already handled.
   */
  async lastResolution(hostId: string, category: string): Promise<{ incidentId: string; at: Date } | undefined> {
    const row = await this.db.get<{ id: string; at: number }>(
      `SELECT id, COALESCE(closed_at, answered_at, opened_at) AS at FROM incidents
       WHERE host_id = ? AND category = ? AND state IN ('closed', 'dismissed', 'released') ORDER BY at DESC, id DESC LIMIT 1`,
      [hostId, category],
    );
    return row && { incidentId: row.id, at: new Date(row.at) };
  }

  /** The incident whose clock fires first (ties: lowest id), or undefined when no clock runs. */
  async earliestDue(): Promise<DueIncident | undefined> {
    return (await this.due('', [], 1))[0];
  }

  /**
   * Incidents due at or before `t`, earliest first (ties: lowest id), at
   * most `limit`; with `after`, only those ordered after it (a cursor for
   * paging). One range scan of incidents_by_next_due, whatever the table's size.
   */
  dueUpTo(t: Date, limit: number, after?: DueIncident): Promise<DueIncident[]> {
    if (!after) return this.due('AND next_due_at <= ?', [toEpochMs(t, 't')], limit);
    const at = toEpochMs(after.dueAt, 'after.dueAt');
    return this.due('AND next_due_at <= ? AND (next_due_at > ? OR (next_due_at = ? AND id > ?))', [toEpochMs(t, 't'), at, at, after.id], limit);
  }

  private async due(extra: string, params: SqlValue[], limit: number): Promise<DueIncident[]> {
    const rows = await this.db.all<{ id: string; next_due_at: number }>(
      `SELECT id, next_due_at FROM incidents WHERE next_due_at IS NOT NULL ${extra} ORDER BY next_due_at, id LIMIT ?`,
      [...params, limit],
    );
    return rows.map((r) => ({ id: r.id, dueAt: new Date(r.next_due_at) }));
  }

  /** How many incidents are in each of these states (absent: none); one index range per state (incidents_by_state). */
  async countByState(states: readonly IncidentState[]): Promise<Map<IncidentState, number>> {
    const list = states.map((s) => oneOf(s, INCIDENT_STATES, 'states'));
    if (list.length === 0) return new Map();
    const rows = await this.db.all<{ state: IncidentState; n: number }>(
      `SELECT state, COUNT(*) AS n FROM incidents WHERE state IN (${list.map(() => '?').join(', ')}) GROUP BY state`,
      list,
    );
    return new Map(rows.map((r) => [r.state, r.n]));
  }

  /** How many incidents' clocks fire at or before `t` (a range of incidents_by_next_due). */
  async countDueBy(t: Date): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM incidents WHERE next_due_at IS NOT NULL AND next_due_at <= ?', [toEpochMs(t, 't')]);
    return row?.n ?? 0;
  }
}
