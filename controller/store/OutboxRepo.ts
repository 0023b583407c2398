import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { storeJson, type Json } from './canonicalJson.js';
import { BLOB_MIN_CHARS, Blobs } from './Blobs.js';
import type { SqlDatabase, SqlValue } from './SqlDatabase.js';
import { toEpochMs } from './epochMs.js';
import { nonEmpty, oneOf } from './validate.js';
import { jsonField } from './sqlDialect.js';

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
  /**
   * 128 random bits (hex), set once at enqueue: a mail row's Message-ID
   * carries it (MailSender.outboxMessageId), so a reply or a bounce can name
   * the mail only when its sender saw it.
   */
  ref: string;
}

/** What a Message-ID of ours names: the mail row, its incident, template and recipient (OutboxRepo.byMessageId). */
export interface SentMailRef {
  outboxId: number;
  /** Absent for mail of no incident (a changed contact, a reporter's outcome). */
  incidentId: string | undefined;
  /** The payload's template (`notice`, `escalated`, …, `reporter_outcome`). */
  template: string;
  /** The address the mail went to: the customer's (`payload.customer.email`) or a reporter's (`payload.to.email`). */
  recipient: string | undefined;
  /** Whether the mail went to the incident's customer (not to a reporter). */
  toCustomer: boolean;
  status: OutboxStatus;
}

/** A new row's ref: see OutboxMessage.ref. */
export function newOutboxRef(): string {
  return randomBytes(16).toString('hex');
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
  ref: string | null;
}

const COLUMNS = 'id, kind, incident_id, payload_json, status, due_at, lease, attempts, last_error, blob_refs_json, ref';

/** Messages per multi-row INSERT: 6 parameters each, well under SQLite's and PostgreSQL's limits. */
const ROWS_PER_INSERT = 500;

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

  constructor(private readonly db: SqlDatabase) {
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
      // PostgreSQL tells the id only through RETURNING; SQLite's driver knows it anyway, and leaves a RETURNING statement open under run().
      `INSERT INTO outbox (kind, incident_id, payload_json, status, due_at, blob_refs_json, ref) VALUES (?, ?, ?, 'pending', ?, ?, ?)${this.db.dialect === 'postgresql' ? ' RETURNING id' : ''}`,
      [kind, input.incidentId ?? null, storeJson(payload, 'payload'), availableAt, refs.length > 0 ? JSON.stringify(refs) : null, newOutboxRef()],
    );
    return lastId;
  }

  /**
   * `enqueue` for many messages, in order, as few multi-row INSERTs as it
   * takes (ids ascend in the given order, so delivery order is kept). Inside
   * the caller's transaction; without one, all or none.
   */
  async enqueueMany(inputs: readonly OutboxInput[]): Promise<void> {
    if (inputs.length === 0) return;
    const rows: SqlValue[][] = [];
    for (const input of inputs) {
      const kind = nonEmpty(input.kind, 'kind');
      const availableAt = toEpochMs(input.availableAt, 'availableAt');
      const refs: [Path, string][] = [];
      const payload = await this.lift(input.payload, [], refs);
      rows.push([kind, input.incidentId ?? null, storeJson(payload, 'payload'), availableAt, refs.length > 0 ? JSON.stringify(refs) : null, newOutboxRef()]);
    }
    const write = async () => {
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        const slice = rows.slice(i, i + ROWS_PER_INSERT);
        await this.db.run(
          `INSERT INTO outbox (kind, incident_id, payload_json, status, due_at, blob_refs_json, ref) VALUES ${slice.map(() => "(?, ?, ?, 'pending', ?, ?, ?)").join(', ')}`,
          slice.flat(),
        );
      }
    };
    await (this.db.inTransaction ? write() : this.db.transaction(write));
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
        // On PostgreSQL, replicas claiming at once skip each other's rows instead of waiting for them.
        `SELECT id FROM outbox WHERE status IN ('pending', 'in_flight') AND due_at <= ? ${byKind} ORDER BY due_at, id LIMIT ?${this.db.dialect === 'postgresql' ? ' FOR UPDATE SKIP LOCKED' : ''}`,
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

  /**
   * The mail row an outbox Message-ID names (MailSender.parseOutboxMessageId
   * gives `outboxId` and `ref`), or undefined when there is no such mail row
   * or the ref does not match (a guessed or forged id: told apart from "no
   * row" by nobody). Reads only the few payload fields it returns.
   */
  async byMessageId(outboxId: number, ref: string): Promise<SentMailRef | undefined> {
    if (!Number.isSafeInteger(outboxId) || !/^[0-9a-f]{32}$/.test(ref)) return undefined;
    const row = await this.db.get<{ id: number; incident_id: string | null; ref: string | null; status: string; template: unknown; customer: unknown; to: unknown }>(
      `SELECT id, incident_id, ref, status, ${jsonField(this.db.dialect, 'payload_json', 'template')} AS template,
              ${jsonField(this.db.dialect, 'payload_json', 'customer', 'email')} AS customer, ${jsonField(this.db.dialect, 'payload_json', 'to', 'email')} AS "to"
       FROM outbox WHERE id = ? AND kind = 'mail'`,
      [outboxId],
    );
    if (!row || row.ref === null || row.ref.length !== ref.length || !timingSafeEqual(Buffer.from(row.ref), Buffer.from(ref))) return undefined;
    const customer = typeof row.customer === 'string' ? row.customer : undefined;
    const to = typeof row.to === 'string' ? row.to : undefined;
    return {
      outboxId: row.id,
      incidentId: row.incident_id ?? undefined,
      template: typeof row.template === 'string' ? row.template : '',
      recipient: customer ?? to,
      toCustomer: customer !== undefined && to === undefined,
      status: oneOf(row.status, OUTBOX_STATUSES, `outbox[${row.id}].status`, 'internal'),
    };
  }

  /** The newest mail row of this incident with this template, for telling a stale bounce from a current one. */
  async latestMail(incidentId: string, template: string): Promise<{ id: number; status: OutboxStatus } | undefined> {
    const row = await this.db.get<{ id: number; status: string }>(
      `SELECT id, status FROM outbox WHERE incident_id = ? AND kind = 'mail' AND ${jsonField(this.db.dialect, 'payload_json', 'template')} = ? ORDER BY id DESC LIMIT 1`,
      [incidentId, template],
    );
    return row && { id: row.id, status: oneOf(row.status, OUTBOX_STATUSES, `outbox[${row.id}].status`, 'internal') };
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
    // Most payloads (every restriction mail of a mass action) hold no large string: no copy, no await per field.
    if (path.length === 0 && !holdsLargeString(value)) return value;
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

  /**
   * Appends `item` to the list `key` of the incident's newest mail of one of
   * `templates` that no worker has claimed yet (pending, never attempted),
   * and says whether there was one. A claimed row is never touched: what a
   * worker may be sending does not change under it. Inside the caller's
   * transaction, so two writers cannot append to a row one of them just
   * claimed.
   */
  async appendToPending(incidentId: string, templates: readonly string[], key: string, item: unknown): Promise<boolean> {
    const row = await this.db.get<{ id: number }>(
      `SELECT id FROM outbox WHERE kind = 'mail' AND incident_id = ? AND status = 'pending' AND attempts = 0
         AND ${jsonField(this.db.dialect, 'payload_json', 'template')} IN (${templates.map(() => '?').join(', ')}) ORDER BY id DESC LIMIT 1`,
      [incidentId, ...templates],
    );
    if (!row) return false;
    const message = await this.get(row.id);
    const payload = message!.payload as Record<string, unknown>;
    const list = Array.isArray(payload[key]) ? (payload[key] as unknown[]) : [];
    const refs: [Path, string][] = [];
    const lifted = await this.lift({ ...payload, [key]: [...list, item] }, [], refs);
    const { changes } = await this.db.run(
      "UPDATE outbox SET payload_json = ?, blob_refs_json = ? WHERE id = ? AND status = 'pending' AND attempts = 0",
      [storeJson(lifted, 'payload'), refs.length > 0 ? JSON.stringify(refs) : null, row.id],
    );
    return changes === 1;
  }

  /**
   * The incident's mail rows, newest first, at most `limit` (1 to 200), with
   * their payloads whole (blobs put back): what the desk shows of the mails
   * sent about it. Read by `outbox.incident_id`; a row of no incident (a
   * reporter's outcome, a changed contact) is not among them.
   */
  async mailsOfIncident(incidentId: string, limit: number): Promise<OutboxMessage[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new CordonError('invalid', 'a whole number from 1 to 200', { field: 'limit' });
    const rows = await this.db.all<OutboxRow>(`SELECT ${COLUMNS} FROM outbox WHERE incident_id = ? AND kind = 'mail' ORDER BY id DESC LIMIT ?`, [incidentId, limit]);
    return Promise.all(rows.map((r) => this.fromRow(r)));
  }

  /** When the incident's newest mail of one of `templates` was (or is) due: a sent row's claim time plus its lease, roughly when it went. */
  async lastMailDue(incidentId: string, templates: readonly string[]): Promise<Date | undefined> {
    const row = await this.db.get<{ due: number | null }>(
      `SELECT MAX(due_at) AS due FROM outbox WHERE kind = 'mail' AND incident_id = ? AND ${jsonField(this.db.dialect, 'payload_json', 'template')} IN (${templates.map(() => '?').join(', ')})`,
      [incidentId, ...templates],
    );
    return row?.due === null || row?.due === undefined ? undefined : new Date(row.due);
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
    // Migration 7 gave every older row one; a row without is a damaged file, not a mail to send unguessably.
    ref: r.ref ?? fail(r.id),
  };
}

function fail(id: number): never {
  throw new CordonError('internal', `outbox row ${id} has no ref`);
}

/** Whether `value` holds a string that `lift` would store as a blob, through plain objects and arrays as `lift` walks them. */
function holdsLargeString(value: unknown): boolean {
  if (typeof value === 'string') return value.length >= BLOB_MIN_CHARS;
  if (Array.isArray(value)) return value.some(holdsLargeString);
  if (value !== null && typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    for (const k in value) if (Object.hasOwn(value, k) && holdsLargeString((value as Record<string, unknown>)[k])) return true;
  }
  return false;
}
