import { createTransport, type Transporter } from 'nodemailer';
import type { Attachment } from 'nodemailer/lib/mailer';
import type { MailAttachment, RenderedMail } from './renderMail.js';
import { classifySendError } from './classifySendError.js';
import { CordonError } from '../../proto/runtime/CordonError.js';

/** How Cordon reaches its mail relay. */
export interface MailSenderConfig {
  host: string;
  port: number;
  /** TLS from the first byte (port 465). False: plain, upgraded with STARTTLS when offered. */
  secure: boolean;
  /** Refuse to send unless STARTTLS succeeds (only meaningful with `secure: false`). Default false. */
  requireTLS?: boolean | undefined;
  user?: string | undefined;
  password?: string | undefined;
  /** The From address, optionally with a name: `Abuse Desk <abuse@example.net>`. Also the envelope sender. */
  from: string;
  replyTo: string;
  /** Defaults: connect 10 s, greeting 10 s, idle socket 60 s. Bounds how long one send (and `OutboxWorker.stop`) can hang. */
  connectionTimeoutMs?: number | undefined;
  greetingTimeoutMs?: number | undefined;
  socketTimeoutMs?: number | undefined;
}

/** What the outbox worker needs from a sender; tests substitute their own. */
export interface MailTransport {
  send(to: MailRecipient, mail: RenderedMail, opts: { messageId: string }): Promise<string>;
}

export interface MailRecipient {
  name: string;
  address: string;
}

/** Outbox rows' mail domain in Message-IDs; not a real host, so nothing routes to it. */
const MESSAGE_ID_DOMAIN = 'cordon';

/**
 * The Message-ID of an outbox row's mail: `<outbox-ID.REF@cordon>`, with the
 * row's random `ref` (OutboxRepo.enqueue). Deterministic per row, so a resend
 * of the same row after a crash carries the same id and the receiving side
 * can drop it as a duplicate; unguessable across rows, so only someone who
 * received the mail can name it in a forged reply or bounce.
 */
export function outboxMessageId(outboxId: number, ref: string): string {
  if (!Number.isSafeInteger(outboxId) || outboxId < 1) throw new CordonError('invalid', 'must be a positive integer', { field: 'outboxId' });
  if (!OUTBOX_REF.test(ref)) throw new CordonError('invalid', 'must be 32 lowercase hex digits (OutboxRepo.newRef)', { field: 'ref' });
  return `<outbox-${outboxId}.${ref}@${MESSAGE_ID_DOMAIN}>`;
}

/** A row's ref: 128 random bits, hex (lowercase: some relays fold the case of a Message-ID). */
export const OUTBOX_REF = /^[0-9a-f]{32}$/;

/**
 * The row id and ref an outbox Message-ID names, or undefined when it is not
 * one of ours in the current form (the old `<outbox-ID@cordon>` form names
 * no ref and is refused: it was guessable). Angle brackets optional; case of
 * the ref and domain ignored. Says nothing about whether the ref is right:
 * that is OutboxRepo.byMessageId's check.
 */
export function parseOutboxMessageId(messageId: string): { outboxId: number; ref: string } | undefined {
  const m = /^<?outbox-([1-9][0-9]{0,15})\.([0-9a-f]{32})@cordon>?$/i.exec(messageId.trim());
  if (!m) return undefined;
  const outboxId = Number(m[1]);
  return Number.isSafeInteger(outboxId) ? { outboxId, ref: m[2]!.toLowerCase() } : undefined;
}

/**
 * Sends rendered mail through one SMTP relay with nodemailer. A new
 * connection per message (no pool): customer mail is rare, and a fresh
 * connection never inherits a half-dead socket.
 */
export class MailSender implements MailTransport {
  private readonly transport: Transporter;

  constructor(private readonly config: MailSenderConfig) {
    this.transport = createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      requireTLS: config.requireTLS ?? false,
      auth: config.user !== undefined ? { user: config.user, pass: config.password ?? '' } : undefined,
      connectionTimeout: config.connectionTimeoutMs ?? 10_000,
      greetingTimeout: config.greetingTimeoutMs ?? 10_000,
      socketTimeout: config.socketTimeoutMs ?? 60_000,
    });
  }

  /**
   * Sends one mail and resolves with the Message-ID the relay accepted (the
   * one given). Rejects with CordonError `transient` (relay unreachable,
   * 4xx, authentication: retry later), `refused` (a permanent 5xx: do not
   * retry) or `invalid` (nodemailer would not build or address it).
   */
  async send(to: MailRecipient, mail: RenderedMail, opts: { messageId: string }): Promise<string> {
    try {
      const info = await this.transport.sendMail({
        from: this.config.from,
        replyTo: this.config.replyTo,
        to,
        subject: mail.subject,
        text: mail.text,
        headers: mail.headers,
        messageId: opts.messageId,
        attachments: mail.attachments.map(toAttachment),
        // Declares BODY=8BITMIME when the relay offers it: an unmodified complaint may be 8bit.
        envelope: { from: this.config.from, to: to.address, use8BitMime: true },
      });
      return info.messageId;
    } catch (err) {
      throw classifySendError(err);
    }
  }

  /** Releases the transport; idempotent. */
  close(): void {
    this.transport.close();
  }
}

/**
 * A message/rfc822 part must not be base64- or QP-encoded (RFC 2046 5.2.1),
 * but sent as it is, SMTP turns bare CR or LF into CRLF and cannot carry
 * lines over 998 octets. So: as it is (7bit/8bit) when that is lossless,
 * otherwise base64 — the one deviation from RFC 2046 we accept, because the
 * bytes of the original complaint matter more than the label, and common
 * clients decode it.
 */
function toAttachment(a: MailAttachment): Attachment {
  const content = Buffer.from(a.content, 'utf8');
  const base = { filename: a.filename, content, contentType: a.contentType, contentDisposition: 'attachment' };
  if (!/^message\//i.test(a.contentType)) return base;
  return { ...base, contentTransferEncoding: identityEncoding(content) ?? 'base64' };
}

/** '7bit' or '8bit' when SMTP carries these bytes unchanged as they are; undefined when it would alter them. */
export function identityEncoding(bytes: Buffer): '7bit' | '8bit' | undefined {
  let eightBit = false;
  let lineLength = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0d) {
      if (bytes[i + 1] !== 0x0a) return undefined; // bare CR
      i++;
      lineLength = 0;
      continue;
    }
    if (b === 0x0a || b === 0x00) return undefined; // bare LF, NUL
    if (b > 0x7f) eightBit = true;
    if (++lineLength > 998) return undefined;
  }
  return eightBit ? '8bit' : '7bit';
}
