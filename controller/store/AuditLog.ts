import { createHash } from 'node:crypto';
import { canonicalJson, storeJson, type Json } from './canonicalJson.js';
import type { SqlDatabase, SqlValue } from './SqlDatabase.js';
import { toEpochMs } from './epochMs.js';
import { nonEmpty } from './validate.js';

/** The chain's start: the prev_hash of row 1. */
export const GENESIS_HASH = '0'.repeat(64);

export interface AuditInput {
  at: Date;
  /** Who: an operator, `policy`, `scheduler`, `system`. */
  actor: string;
  /** What, as a dotted verb: `incident.open`, `host.desired_state`. */
  action: string;
  /** On what: an incident, host or customer id. */
  subject: string;
  /** Anything JSON.stringify takes (Dates become ISO strings). */
  detail: unknown;
}

export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  action: string;
  subject: string;
  detail: Json;
  prevHash: string;
  hash: string;
}

export type AuditVerification = { ok: true; rows: number } | { ok: false; rows: number; firstBroken: { id: number; reason: string } };

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  detail_json: string;
  prev_hash: string;
  hash: string;
}

/**
 * The hash of row `id`: sha256 over the previous row's hash followed by the
 * canonical JSON of the row's own fields, the id included (so a row cannot
 * move). Anyone can recompute it from an export with no Cordon code.
 */
export function auditHash(prevHash: string, row: { id: number; at: number; actor: string; action: string; subject: string; detail: Json }): string {
  return auditHashOfText(prevHash, row, canonicalJson(row.detail));
}

/**
 * auditHash with the detail already in canonical text (what the row
 * stores): the row's canonical JSON written out in its sorted key order
 * (action, actor, at, detail, id, subject), the detail not walked again.
 */
function auditHashOfText(prevHash: string, row: { id: number; at: number; actor: string; action: string; subject: string }, detailText: string): string {
  const body = `{"action":${JSON.stringify(row.action)},"actor":${JSON.stringify(row.actor)},"at":${JSON.stringify(row.at)},"detail":${detailText},"id":${JSON.stringify(row.id)},"subject":${JSON.stringify(row.subject)}}`;
  return createHash('sha256').update(prevHash + body).digest('hex');
}

/** What AuditLog.search narrows by; every field but `limit` optional. */
export interface AuditSearch {
  actor?: string;
  actionPrefix?: string;
  subject?: string;
  from?: Date;
  to?: Date;
  limit: number;
}

function toEntry(r: AuditRow): AuditEntry {
  return { id: r.id, at: new Date(r.at), actor: r.actor, action: r.action, subject: r.subject, detail: JSON.parse(r.detail_json) as Json, prevHash: r.prev_hash, hash: r.hash };
}

const PAGE = 1000;
/** Rows per INSERT statement: 8 parameters each, well under SQLite's 32,766. */
const ROWS_PER_INSERT = 1000;
/** How many INSERT statements `n` entries take. */
const rows = (n: number) => Math.ceil(n / ROWS_PER_INSERT);

/**
 * Who did what, append-only and hash-chained: triggers refuse UPDATE and
 * DELETE, and verify() catches what the triggers cannot (someone who
 * dropped them, or edited the file). What a chain alone cannot show is the
 * loss of its newest rows; anchoring the latest hash elsewhere (a log line,
 * a mail) covers that.
 */
export class AuditLog {
  constructor(private readonly db: SqlDatabase) {}

  /** Appends one entry after the current last one; returns its id and hash. */
  async append(input: AuditInput): Promise<{ id: number; hash: string }> {
    return (await this.appendMany([input]))[0]!;
  }

  /**
   * Appends entries in order after the current last one, all or none, in
   * one read of the chain's head and as few INSERTs as it can; returns each
   * one's id and hash. Inside a transaction that already holds the write
   * lock nothing can append in between, so no savepoint is needed for a
   * single INSERT.
   */
  async appendMany(inputs: readonly AuditInput[]): Promise<{ id: number; hash: string }[]> {
    const entries = inputs.map((input) => ({
      at: toEpochMs(input.at, 'at'),
      actor: nonEmpty(input.actor, 'actor'),
      action: nonEmpty(input.action, 'action'),
      subject: nonEmpty(input.subject, 'subject'),
      detail: storeJson(input.detail, 'detail'),
    }));
    if (entries.length === 0) return [];
    const write = async () => {
      // Reading the last hash and appending after it must not interleave with another append: the caller's transaction or ours.
      const last = await this.db.get<{ id: number; hash: string }>('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1');
      let id = last?.id ?? 0;
      let prevHash = last?.hash ?? GENESIS_HASH;
      const rows: SqlValue[][] = [];
      const out: { id: number; hash: string }[] = [];
      for (const fields of entries) {
        id++;
        const hash = auditHashOfText(prevHash, { id, ...fields }, fields.detail);
        rows.push([id, fields.at, fields.actor, fields.action, fields.subject, fields.detail, prevHash, hash]);
        out.push({ id, hash });
        prevHash = hash;
      }
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        const slice = rows.slice(i, i + ROWS_PER_INSERT);
        await this.db.run(
          `INSERT INTO audit_log (id, at, actor, action, subject, detail_json, prev_hash, hash) VALUES ${slice.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          slice.flat(),
        );
      }
      return out;
    };
    return this.db.inTransaction && rows(entries.length) === 1 ? write() : this.db.transaction(write);
  }

  /** Entries in order, optionally about one subject; at most `limit` (default 1000) from `afterId`. */
  async list(filter: { subject?: string; afterId?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    const rows = await this.db.all<AuditRow>(
      `SELECT * FROM audit_log WHERE id > ? ${filter.subject === undefined ? '' : 'AND subject = ?'} ORDER BY id LIMIT ?`,
      [filter.afterId ?? 0, ...(filter.subject === undefined ? [] : [filter.subject]), filter.limit ?? 1000],
    );
    return rows.map(toEntry);
  }

  /**
   * The newest entries first, at most `limit`, narrowed by who, what (a
   * prefix of the dotted action), on what, and when ([from, to) in ms).
   * Read-only; the caller bounds `limit`.
   */
  async search(filter: AuditSearch): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    const add = (sql: string, ...values: SqlValue[]) => {
      where.push(sql);
      params.push(...values);
    };
    if (filter.actor !== undefined) add('actor = ?', filter.actor);
    // substr rather than LIKE: a prefix holding % or _ means itself.
    if (filter.actionPrefix !== undefined) add('substr(action, 1, ?) = ?', filter.actionPrefix.length, filter.actionPrefix);
    if (filter.subject !== undefined) add('subject = ?', filter.subject);
    if (filter.from !== undefined) add('at >= ?', filter.from.getTime());
    if (filter.to !== undefined) add('at < ?', filter.to.getTime());
    const rows = await this.db.all<AuditRow>(`SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`, [...params, filter.limit]);
    return rows.map(toEntry);
  }

  /**
   * Recomputes the whole chain, reading it in pages. Names the first row
   * that does not hold: its content no longer matches its hash (a field was
   * edited), or its prev_hash is not the previous row's hash (a row before
   * it was deleted or rewritten).
   */
  async verify(): Promise<AuditVerification> {
    let rows = 0;
    let prev = { id: 0, hash: GENESIS_HASH };
    for (;;) {
      const page = await this.db.all<AuditRow>('SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?', [prev.id, PAGE]);
      for (const r of page) {
        const broken = (reason: string): AuditVerification => ({ ok: false, rows, firstBroken: { id: r.id, reason } });
        if (r.prev_hash !== prev.hash) {
          return broken(
            prev.id === 0
              ? 'prev_hash is not the start of the chain: earlier rows were deleted'
              : `prev_hash does not match row ${prev.id}'s hash: a row between them was deleted, or row ${prev.id} was rewritten`,
          );
        }
        let detail: Json;
        try {
          detail = JSON.parse(r.detail_json) as Json;
        } catch {
          return broken('detail_json is not JSON: the row was edited');
        }
        if (auditHash(r.prev_hash, { id: r.id, at: r.at, actor: r.actor, action: r.action, subject: r.subject, detail }) !== r.hash) {
          return broken('hash does not match the row: a field was edited');
        }
        rows++;
        prev = { id: r.id, hash: r.hash };
      }
      if (page.length < PAGE) return { ok: true, rows };
    }
  }
}
