import { ENFORCING_STATES, INCIDENT_STATES, type IncidentState } from '../incidents/model.js';
import { storeJson, type Json } from './canonicalJson.js';
import type { SqlDatabase } from './SqlDatabase.js';
import { toEpochMs } from './epochMs.js';
import { nonEmpty, oneOf } from './validate.js';

export interface IncidentEventInput {
  incidentId: string;
  at: Date;
  /** What happened: the lifecycle event's type, or a note such as `held`. */
  type: string;
  /** null when there was no state before (the incident's opening). */
  fromState: IncidentState | null | undefined;
  toState: IncidentState | null | undefined;
  /** Who: an operator, `customer`, `policy`, `scheduler`, an agent. */
  actor: string;
  /** Anything JSON.stringify takes (Dates become ISO strings); refused when it cannot round-trip. */
  detail: unknown;
}

export interface StoredIncidentEvent {
  id: number;
  incidentId: string;
  at: Date;
  type: string;
  fromState: IncidentState | undefined;
  toState: IncidentState | undefined;
  actor: string;
  detail: Json;
}

interface EventRow {
  id: number;
  incident_id: string;
  at: number;
  type: string;
  from_state: string | null;
  to_state: string | null;
  actor: string;
  detail_json: string;
}

/** Rows per INSERT statement: 7 parameters each, well under SQLite's 32,766. */
const ROWS_PER_INSERT = 1000;

const state = (s: IncidentState | null | undefined, field: string) => (s === null || s === undefined ? null : oneOf(s, INCIDENT_STATES, field));

const holding = ENFORCING_STATES.map((s) => `'${s}'`).join(', ');
/**
 * EventsRepo.restrictionFlow's one statement: a range of the primary key
 * (id >= ?), then `at` exactly. NOT INDEXED because for COUNT(DISTINCT
 * incident_id) SQLite would otherwise walk the whole incident_events_by_incident
 * index, which is every event ever written.
 */
const restrictionFlow = (notIndexed: string) => `SELECT
  COUNT(DISTINCT CASE WHEN to_state = 'enforcing' AND (from_state IS NULL OR from_state NOT IN (${holding})) THEN incident_id END) AS applied,
  COUNT(DISTINCT CASE WHEN type = 'operator_accept_dispute' AND from_state = 'appealed' THEN incident_id END) AS appeals,
  COUNT(DISTINCT CASE WHEN type = 'operator_dismiss' AND from_state IN (${holding}) THEN incident_id END) AS dismissed
FROM incident_events${notIndexed} WHERE id >= ? AND at >= ? AND at < ?`;
export const RESTRICTION_FLOW_SQL = restrictionFlow(' NOT INDEXED');
/** PostgreSQL has no NOT INDEXED: its planner weighs the primary key range against the index by statistics. */
const RESTRICTION_FLOW_PG = restrictionFlow('');

/**
 * Each incident's history, append-only: triggers abort any UPDATE or DELETE
 * of incident_events, so a row once written is what happened. Ids grow
 * (AUTOINCREMENT), which is the order `list` returns.
 */
export class EventsRepo {
  constructor(private readonly db: SqlDatabase) {}

  /** Appends one event; returns its id. `conflict` if the incident does not exist (foreign key). */
  async append(e: IncidentEventInput): Promise<number> {
    return (await this.appendMany([e]))[0]!;
  }

  /** Appends events in order, all or none, in as few INSERTs as it can; returns their ids. Errors as `append`. */
  async appendMany(list: readonly IncidentEventInput[]): Promise<number[]> {
    const rows = list.map((e) => [
      nonEmpty(e.incidentId, 'incidentId'),
      toEpochMs(e.at, 'at'),
      nonEmpty(e.type, 'type'),
      state(e.fromState, 'fromState'),
      state(e.toState, 'toState'),
      nonEmpty(e.actor, 'actor'),
      storeJson(e.detail, 'detail'),
    ]);
    if (rows.length === 0) return [];
    const write = async () => {
      const ids: number[] = [];
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        const slice = rows.slice(i, i + ROWS_PER_INSERT);
        const sql = `INSERT INTO incident_events (incident_id, at, type, from_state, to_state, actor, detail_json) VALUES ${slice.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
        if (this.db.dialect === 'sqlite') {
          // SQLite's single writer numbers a multi-row INSERT's rows consecutively, in order.
          const { lastId } = await this.db.run(sql, slice.flat());
          for (let k = slice.length - 1; k >= 0; k--) ids.push(lastId - k);
        } else {
          // PostgreSQL's identity draws each row's id in VALUES order, but another replica's
          // INSERT may draw between them: the ids are ascending, not consecutive.
          const returned = await this.db.all<{ id: number }>(`${sql} RETURNING id`, slice.flat());
          ids.push(...returned.map((r) => r.id).sort((a, b) => a - b));
        }
      }
      return ids;
    };
    return rows.length <= ROWS_PER_INSERT ? write() : this.db.transaction(write);
  }

  /** The incident's events in the order they were appended. */
  async list(incidentId: string): Promise<StoredIncidentEvent[]> {
    const rows = await this.db.all<EventRow>(
      'SELECT id, incident_id, at, type, from_state, to_state, actor, detail_json FROM incident_events WHERE incident_id = ? ORDER BY id',
      [incidentId],
    );
    return rows.map((r) => this.fromRow(r));
  }

  /** The incident's latest `limit` events of these types, oldest first (the customer page's decisions, without its many complaint events). */
  async listOfTypes(incidentId: string, types: readonly string[], limit: number): Promise<StoredIncidentEvent[]> {
    if (types.length === 0) return [];
    const rows = await this.db.all<EventRow>(
      `SELECT id, incident_id, at, type, from_state, to_state, actor, detail_json FROM incident_events
       WHERE incident_id = ? AND type IN (${types.map(() => '?').join(', ')}) ORDER BY id DESC LIMIT ?`,
      [incidentId, ...types, limit],
    );
    return rows.reverse().map((r) => this.fromRow(r));
  }

  private fromRow(r: EventRow): StoredIncidentEvent {
    return {
      id: r.id,
      incidentId: r.incident_id,
      at: new Date(r.at),
      type: r.type,
      fromState: r.from_state === null ? undefined : oneOf(r.from_state, INCIDENT_STATES, `incident_events[${r.id}].from_state`, 'internal'),
      toState: r.to_state === null ? undefined : oneOf(r.to_state, INCIDENT_STATES, `incident_events[${r.id}].to_state`, 'internal'),
      actor: r.actor,
      detail: JSON.parse(r.detail_json) as Json,
    };
  }

  /**
   * The first event id whose time may be at or after `t`, found by a binary
   * search on the primary key (about 20 lookups for a million events), so a
   * "since t" scan starts there instead of reading the whole history. Ids are
   * appended in clock order (the controller's clocks never go back), give or
   * take a transaction that waited for the lock; `slackMs` earlier absorbs
   * that, and callers still filter on `at` exactly. undefined: no such event.
   */
  async firstIdSince(t: Date, slackMs = 3_600_000): Promise<number | undefined> {
    const target = toEpochMs(t, 't') - slackMs;
    const bounds = await this.db.get<{ lo: number | null; hi: number | null }>('SELECT MIN(id) AS lo, MAX(id) AS hi FROM incident_events');
    if (bounds?.lo == null || bounds.hi == null) return undefined;
    let lo = bounds.lo;
    let hi = bounds.hi + 1; // invariant: every id >= hi is at or after target (or past the end)
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const row = await this.db.get<{ id: number; at: number }>('SELECT id, at FROM incident_events WHERE id >= ? ORDER BY id LIMIT 1', [mid]);
      if (!row || row.at >= target) hi = mid;
      else lo = row.id + 1;
    }
    return lo > bounds.hi ? undefined : lo;
  }

  /**
   * Restrictions applied and reversed in [since, until), counted in distinct
   * incidents from their events (see desk/deskHealth for the definitions):
   * `applied`: entered `enforcing` from a state that held nothing (or at
   * opening); `appealsAccepted`: operator_accept_dispute from `appealed`;
   * `dismissed`: operator_dismiss from a state that held actions. Reads only
   * the events from `firstIdSince(since)` on.
   */
  async restrictionFlow(since: Date, until: Date): Promise<{ applied: number; appealsAccepted: number; dismissed: number }> {
    const first = await this.firstIdSince(since);
    if (first === undefined) return { applied: 0, appealsAccepted: 0, dismissed: 0 };
    const row = await this.db.get<{ applied: number; appeals: number; dismissed: number }>(this.db.dialect === 'sqlite' ? RESTRICTION_FLOW_SQL : RESTRICTION_FLOW_PG, [
      first,
      toEpochMs(since, 'since'),
      toEpochMs(until, 'until'),
    ]);
    return { applied: row?.applied ?? 0, appealsAccepted: row?.appeals ?? 0, dismissed: row?.dismissed ?? 0 };
  }
}
