import { createHash } from 'node:crypto';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { SqlDatabase } from './SqlDatabase.js';
import { fromEpochMs, toEpochMs } from './epochMs.js';
import { nonEmpty, oneOf } from './validate.js';

export const MESSAGE_CHANNELS = ['page', 'mail', 'operator'] as const;
export const MESSAGE_KINDS = ['answer', 'reply', 'auto_reply', 'bounce'] as const;
export const ANSWERS = ['ack', 'fixed', 'false_positive', 'plan'] as const;
export type CustomerAnswer = (typeof ANSWERS)[number];

/**
 * Something the customer said about an incident, or that the mail system
 * said for them: an answer on the page (or recorded by an operator, channel
 * `operator`, with the customer's note), a mail reply, an auto-reply, a
 * bounce of a notice. Mail is threaded here, never read as an answer.
 */
export interface CustomerMessage {
  id: string;
  incidentId: string;
  at: Date;
  channel: (typeof MESSAGE_CHANNELS)[number];
  kind: (typeof MESSAGE_KINDS)[number];
  answer: CustomerAnswer | undefined;
  planDueAt: Date | undefined;
  /** The customer's words (description, justification, plan, mail text); may be empty for an acknowledgement. */
  body: string;
  /** `customer`, or `customer via <operator>` when an operator recorded it, or the mail's sender. */
  actor: string;
  sourceAddress: string | undefined;
  userAgent: string | undefined;
  /** A mail's Message-ID (threads a re-delivered mail once). */
  messageId: string | undefined;
  /** The page form's one-time id (a repeated submit records nothing new). */
  submissionId: string | undefined;
  /** The whole mail as received, in `blobs`. */
  rawSha256: string | undefined;
  seenBy: string | undefined;
  seenAt: Date | undefined;
}

export interface CustomerFile {
  id: string;
  messageId: string;
  incidentId: string;
  filename: string;
  contentType: string;
  size: number;
  sha256: string;
}

interface Row {
  id: string;
  incident_id: string;
  at: number;
  channel: string;
  kind: string;
  answer: string | null;
  plan_due_at: number | null;
  body: string;
  actor: string;
  source_address: string | null;
  user_agent: string | null;
  message_id: string | null;
  submission_id: string | null;
  raw_sha256: string | null;
  seen_by: string | null;
  seen_at: number | null;
}

const COLUMNS =
  'id, incident_id, at, channel, kind, answer, plan_due_at, body, actor, source_address, user_agent, message_id, submission_id, raw_sha256, seen_by, seen_at';

function fromRow(r: Row): CustomerMessage {
  const where = (c: string) => `customer_messages[${r.id}].${c}`;
  return {
    id: r.id,
    incidentId: r.incident_id,
    at: new Date(r.at),
    channel: oneOf(r.channel, MESSAGE_CHANNELS, where('channel'), 'internal'),
    kind: oneOf(r.kind, MESSAGE_KINDS, where('kind'), 'internal'),
    answer: r.answer === null ? undefined : oneOf(r.answer, ANSWERS, where('answer'), 'internal'),
    planDueAt: fromEpochMs(r.plan_due_at),
    body: r.body,
    actor: r.actor,
    sourceAddress: r.source_address ?? undefined,
    userAgent: r.user_agent ?? undefined,
    messageId: r.message_id ?? undefined,
    submissionId: r.submission_id ?? undefined,
    rawSha256: r.raw_sha256 ?? undefined,
    seenBy: r.seen_by ?? undefined,
    seenAt: fromEpochMs(r.seen_at),
  };
}

/** The customer's side of each incident (migration `customer_voice`). */
export class CustomerMessagesRepo {
  constructor(private readonly db: SqlDatabase) {}

  /**
   * Records a message. Returns false, recording nothing, when the same
   * submission (page) or the same Message-ID (mail) is already recorded for
   * this incident: a double submit or a re-delivered mail is harmless.
   */
  async insert(m: Omit<CustomerMessage, 'seenBy' | 'seenAt'>): Promise<boolean> {
    if ((m.kind === 'answer') !== (m.answer !== undefined)) throw new CordonError('invalid', 'an answer, and only an answer, names what was answered', { field: 'answer' });
    const r = await this.db.run(
      `INSERT INTO customer_messages (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL) ON CONFLICT DO NOTHING`,
      [
        nonEmpty(m.id, 'id'),
        nonEmpty(m.incidentId, 'incidentId'),
        toEpochMs(m.at, 'at'),
        oneOf(m.channel, MESSAGE_CHANNELS, 'channel'),
        oneOf(m.kind, MESSAGE_KINDS, 'kind'),
        m.answer ?? null,
        toEpochMs(m.planDueAt, 'planDueAt'),
        m.body,
        nonEmpty(m.actor, 'actor'),
        m.sourceAddress ?? null,
        m.userAgent ?? null,
        m.messageId ?? null,
        m.submissionId ?? null,
        m.rawSha256 ?? null,
      ],
    );
    return r.changes === 1;
  }

  async get(id: string): Promise<CustomerMessage | undefined> {
    const r = await this.db.get<Row>(`SELECT ${COLUMNS} FROM customer_messages WHERE id = ?`, [id]);
    return r ? fromRow(r) : undefined;
  }

  async bySubmission(incidentId: string, submissionId: string): Promise<CustomerMessage | undefined> {
    const r = await this.db.get<Row>(`SELECT ${COLUMNS} FROM customer_messages WHERE incident_id = ? AND submission_id = ?`, [incidentId, submissionId]);
    return r ? fromRow(r) : undefined;
  }

  async listByIncident(incidentId: string): Promise<CustomerMessage[]> {
    return (await this.db.all<Row>(`SELECT ${COLUMNS} FROM customer_messages WHERE incident_id = ? ORDER BY at, id`, [incidentId])).map(fromRow);
  }

  /** Messages no operator has marked seen, oldest first. */
  async listUnseen(limit = 200): Promise<CustomerMessage[]> {
    return (await this.db.all<Row>(`SELECT ${COLUMNS} FROM customer_messages WHERE seen_at IS NULL ORDER BY at, id LIMIT ?`, [limit])).map(fromRow);
  }

  async markSeen(id: string, by: string, at: Date): Promise<boolean> {
    const r = await this.db.run('UPDATE customer_messages SET seen_by = ?, seen_at = ? WHERE id = ? AND seen_at IS NULL', [nonEmpty(by, 'by'), toEpochMs(at, 'at'), id]);
    return r.changes === 1;
  }

  /** Stores one evidence file of a message. The bytes are kept as uploaded and served back only as an attachment. */
  async addFile(f: Omit<CustomerFile, 'size' | 'sha256'>, bytes: Buffer): Promise<CustomerFile> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await this.db.run('INSERT INTO customer_files (id, message_id, incident_id, filename, content_type, size, sha256, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      nonEmpty(f.id, 'id'),
      nonEmpty(f.messageId, 'messageId'),
      nonEmpty(f.incidentId, 'incidentId'),
      nonEmpty(f.filename, 'filename'),
      nonEmpty(f.contentType, 'contentType'),
      bytes.length,
      sha256,
      bytes,
    ]);
    return { ...f, size: bytes.length, sha256 };
  }

  async listFiles(incidentId: string): Promise<CustomerFile[]> {
    const rows = await this.db.all<{ id: string; message_id: string; incident_id: string; filename: string; content_type: string; size: number; sha256: string }>(
      // Per message, oldest first, then by name: an order both engines keep (PostgreSQL has no rowid).
      `SELECT f.id, f.message_id, f.incident_id, f.filename, f.content_type, f.size, f.sha256
       FROM customer_files f JOIN customer_messages m ON m.id = f.message_id
       WHERE f.incident_id = ? ORDER BY m.at, m.id, f.filename, f.id`,
      [incidentId],
    );
    return rows.map((r) => ({ id: r.id, messageId: r.message_id, incidentId: r.incident_id, filename: r.filename, contentType: r.content_type, size: r.size, sha256: r.sha256 }));
  }

  /** One file with its bytes, only when it belongs to this incident (a file id alone opens nothing). */
  async fileBytes(incidentId: string, fileId: string): Promise<(CustomerFile & { bytes: Buffer }) | undefined> {
    const r = await this.db.get<{ id: string; message_id: string; incident_id: string; filename: string; content_type: string; size: number; sha256: string; bytes: Buffer }>(
      'SELECT id, message_id, incident_id, filename, content_type, size, sha256, bytes FROM customer_files WHERE id = ? AND incident_id = ?',
      [fileId, incidentId],
    );
    return r ? { id: r.id, messageId: r.message_id, incidentId: r.incident_id, filename: r.filename, contentType: r.content_type, size: r.size, sha256: r.sha256, bytes: r.bytes } : undefined;
  }
}
