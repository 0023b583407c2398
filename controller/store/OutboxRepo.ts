import { randomUUID } from 'node:crypto';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { storeJson, type Json } from './canonicalJson.js';
import { BLOB_MIN_CHARS, Blobs } from './Blobs.js';
import type { Database, SqlValue } from './Database.js';
import { toEpochMs } from './epochMs.js';
import { nonEmpty, oneOf } from './validate.js';

export const OUTBOX_STATUSES = ['pending', 'in_flight', 'done', 'dead'] as const;
/** pending: waits for its time; in_flight: claimed under a lease; done: delivered; dead: given up. */
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

export interface OutboxInput {
  /** What to do: `mail`, `push`, `bmc_check`, … (the worker dispatches on it). */
  kind: string;
  incidentId?: string | undefined;
  /** Anything JSON.stringify takes. */
  payload: unknown;
  /** Not delivered before this time. */
  availableAt: Date;
}

export interface OutboxMessage {
  id: number;
  kind: string;
  incidentId: string | undefined;
  payload: Json;
  status: OutboxStatus;
  /** pending: when it may go; in_flight: when its lease ends. */
  dueAt: Date;
  /** How many times it was claimed: a worker that died mid-delivery counts too. */
  attempts: number;
  lastError: string | undefined;
  lease: string | undefined;
}

/** A message claimed by `claimDue`: the lease is the worker's proof that it still owns it. */
export type ClaimedMessage = OutboxMessage & { status: 'in_flight'; lease: string };
type Claim = Pick<ClaimedMessage, 'id' | 'lease'>;

interface OutboxRow {
  blob_refs_json: string | null;
  id: number;
  kind: string;
  incident_id: string | null;
  payload_json: string;
  status: string;
  due_at: number;
  lease: string | null;
  attempts: number;
  last_error: string | null;
}

const COLUMNS = 'id, kind, incident_id, payload_json, status, due_at, lease, attempts, last_error, blob_refs_json';

/** Where in a payload a string goes: object keys and array indexes, from the top. */
type Path = (string | number)[];

/**
 * Work caused by a commit, written in the same transaction and delivered
 * after it (at least once). A worker claims due messages under a lease;
 * a claim whose lease ran out (the worker died or hung) is due again and
 * may be claimed by another, so deliveries must be idempotent downstream
 * (mail carries its message id, desired states their generation). The lease
 * token fences the slow worker: once someone else claimed the message, its
 * markDone or markFailed is refused with `conflict` and changes nothing.
 */
export class OutboxRepo {
  private readonly blobs: Blobs;

  constructor(private readonly db: Database) {
    this.blobs = new Blobs(db);
  }

  /**
   * Queues a message; returns its id. A string of BLOB_MIN_CHARS or more
   * reachable through the payload's plain objects and arrays (a report
   * quoted in a notice) is stored once in `blobs` and put back on reading:
   * callers see the payload they queued.
   */
  async enqueue(input: OutboxInput): Promise<number> {
    const kind = nonEmpty(input.kind, 'kind');
    const availableAt = toEpochMs(input.availableAt, 'availableAt');
    const refs: [Path, string][] = [];
    const payload = await this.lift(input.payload, [], refs);
    const { lastId } = await this.db.run(
      "INSERT INTO outbox (kind, incident_id, payload_json, status, due_at, blob_refs_json) VALUES (?, ?, ?, 'pending', ?, ?)",
      [kind, input.incidentId ?? null, storeJson(payload, 'payload'), availableAt, refs.length > 0 ? JSON.stringify(refs) : null],
    );
    return lastId;
  }

  /**
   * Claims up to `limit` messages due at `now` (pending ones whose time has
   * come, and in-flight ones whose lease ran out), oldest due first, for
   * `leaseMs`; each claim counts as an attempt. With `kinds`, only messages
   * of those kinds, so each worker claims only what it can deliver.
   */
  claimDue(now: Date, limit: number, leaseMs = 60_000, kinds?: readonly string[]): Promise<ClaimedMessage[]> {
    const at = toEpochMs(now, 'now');
    if (!Number.isInteger(limit) || limit < 1) throw new CordonError('invalid', 'must be a positive integer', { field: 'limit' });
    if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new CordonError('invalid', 'must be a positive integer', { field: 'leaseMs' });
    return this.db.transaction(async () => {
      const byKind = kinds === undefined ? '' : `AND kind IN (${kinds.map(() => '?').join(', ')})`;
      const due = await this.db.all<{ id: number }>(
        `SELECT id FROM outbox WHERE status IN ('pending', 'in_flight') AND due_at <= ? ${byKind} ORDER BY due_at, id LIMIT ?`,
        [at, ...(kinds ?? []), limit],
      );
      const claimed: ClaimedMessage[] = [];
      for (const { id } of due) {
        const lease = randomUUID();
        await this.db.run("UPDATE outbox SET status = 'in_flight', lease = ?, due_at = ?, attempts = attempts + 1 WHERE id = ?", [lease, at + leaseMs, id]);
        claimed.push((await this.get(id)) as ClaimedMessage);
      }
      return claimed;
    });
  }

  /** Marks a claimed message delivered. `conflict` if the lease was lost. */
  async markDone(claim: Claim): Promise<void> {
    await this.settle(claim, "status = 'done', lease = NULL", []);
  }

  /**
   * Records a failed delivery: due again at `retryAt`, or dead (given up,
   * for an operator to look at) when `retryAt` is null. `conflict` if the
   * lease was lost.
   */
  async markFailed(claim: Claim, error: string, retryAt: Date | null): Promise<void> {
    if (retryAt === null) {
      await this.settle(claim, "status = 'dead', lease = NULL, last_error = ?", [String(error)]);
    } else {
      await this.settle(claim, "status = 'pending', lease = NULL, last_error = ?, due_at = ?", [String(error), toEpochMs(retryAt, 'retryAt')]);
    }
  }

  /** When the next message falls due (pending or lease end), for the worker's timer. */
  async nextDueAt(): Promise<Date | undefined> {
    const row = await this.db.get<{ due_at: number }>("SELECT due_at FROM outbox WHERE status IN ('pending', 'in_flight') ORDER BY due_at LIMIT 1");
    return row && new Date(row.due_at);
  }

  async get(id: number): Promise<OutboxMessage | undefined> {
    const row = await this.db.get<OutboxRow>(`SELECT ${COLUMNS} FROM outbox WHERE id = ?`, [id]);
    return row && this.fromRow(row);
  }

  /** Messages in id order, optionally of one status; at most `limit` (default 1000). */
  async list(filter: { status?: OutboxStatus; limit?: number } = {}): Promise<OutboxMessage[]> {
    const params: SqlValue[] = [];
    let where = '';
    if (filter.status !== undefined) {
      where = 'WHERE status = ?';
      params.push(oneOf(filter.status, OUTBOX_STATUSES, 'status'));
    }
    const rows = await this.db.all<OutboxRow>(`SELECT ${COLUMNS} FROM outbox ${where} ORDER BY id LIMIT ?`, [...params, filter.limit ?? 1000]);
    return Promise.all(rows.map((r) => this.fromRow(r)));
  }

  /** A copy of `value` with each large string (through plain objects and arrays) stored as a blob and replaced by its hash, listed in `refs`. */
  private async lift(value: unknown, path: Path, refs: [Path, string][]): Promise<unknown> {
    if (typeof value === 'string') {
      if (value.length < BLOB_MIN_CHARS) return value;
      const sha256 = await this.blobs.put(value);
      refs.push([path, sha256]);
      return sha256;
    }
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (const [i, v] of value.entries()) out.push(await this.lift(v, [...path, i], refs));
      return out;
    }
    if (value !== null && typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = await this.lift(v, [...path, k], refs);
      return out;
    }
    return value;
  }

  private async fromRow(r: OutboxRow): Promise<OutboxMessage> {
    const message = fromRow(r);
    if (r.blob_refs_json === null) return message;
    for (const [path, sha256] of JSON.parse(r.blob_refs_json) as [Path, string][]) {
      const text = await this.blobs.get(sha256);
      if (path.length === 0) {
        message.payload = text;
        continue;
      }
      let at = message.payload as Record<string | number, Json>;
      for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, Json>;
      at[path.at(-1)!] = text;
    }
    return message;
  }

  private async settle(claim: Claim, set: string, params: SqlValue[]): Promise<void> {
    const { changes } = await this.db.run(`UPDATE outbox SET ${set} WHERE id = ? AND status = 'in_flight' AND lease = ?`, [...params, claim.id, claim.lease]);
    if (changes === 0) {
      throw new CordonError('conflict', `outbox message ${claim.id} is not held under this lease (it expired and was claimed again, or was settled)`, {
        field: 'lease',
      });
    }
  }
}

function fromRow(r: OutboxRow): OutboxMessage {
  return {
    id: r.id,
    kind: r.kind,
    incidentId: r.incident_id ?? undefined,
    payload: JSON.parse(r.payload_json) as Json,
    status: oneOf(r.status, OUTBOX_STATUSES, `outbox[${r.id}].status`, 'internal'),
    dueAt: new Date(r.due_at),
    attempts: r.attempts,
    lastError: r.last_error ?? undefined,
    lease: r.lease ?? undefined,
  };
}
