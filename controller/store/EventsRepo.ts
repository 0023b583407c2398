import { INCIDENT_STATES, type IncidentState } from '../incidents/model.js';
import { storeJson, type Json } from './canonicalJson.js';
import type { Database } from './Database.js';
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

/**
 * Each incident's history, append-only: triggers abort any UPDATE or DELETE
 * of incident_events, so a row once written is what happened. Ids grow
 * (AUTOINCREMENT), which is the order `list` returns.
 */
export class EventsRepo {
  constructor(private readonly db: Database) {}

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
        const { lastId } = await this.db.run(
          `INSERT INTO incident_events (incident_id, at, type, from_state, to_state, actor, detail_json) VALUES ${slice.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          slice.flat(),
        );
        // AUTOINCREMENT numbers a multi-row INSERT's rows consecutively, in order.
        for (let k = slice.length - 1; k >= 0; k--) ids.push(lastId - k);
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
    return rows.map((r) => ({
      id: r.id,
      incidentId: r.incident_id,
      at: new Date(r.at),
      type: r.type,
      fromState: r.from_state === null ? undefined : oneOf(r.from_state, INCIDENT_STATES, `incident_events[${r.id}].from_state`, 'internal'),
      toState: r.to_state === null ? undefined : oneOf(r.to_state, INCIDENT_STATES, `incident_events[${r.id}].to_state`, 'internal'),
      actor: r.actor,
      detail: JSON.parse(r.detail_json) as Json,
    }));
  }
}
