import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { firstField, readArfFields } from '../formats/arfFields.js';
import { readDeliveryStatus, type DeliveryStatus } from './readDeliveryStatus.js';

/** What the classifier reads of one message: headers and parts, no decision yet. */
export interface CustomerMailFacts {
  /** The message's own Message-ID, with angle brackets; undefined when it has none. */
  messageId: string | undefined;
  /** The first From address as written (not lower-cased). */
  from: string | undefined;
  subject: string;
  /** Message ids of In-Reply-To, in order, with angle brackets. */
  inReplyTo: string[];
  /** Message ids of References, in order (oldest first, as RFC 5322 writes them). */
  references: string[];
  /** RFC 3834 Auto-Submitted keyword, lower-cased (`auto-replied`, `auto-generated`, `no`); undefined when absent. */
  autoSubmitted: string | undefined;
  /** Other auto-responder markers present, as `name: value` (X-Autoreply, X-Autorespond, Precedence auto_reply|bulk|junk). */
  autoMarkers: string[];
  /** From a mailer daemon or postmaster, or with the null Return-Path of a bounce. */
  fromMailSystem: boolean;
  /** The text part (HTML reduced to text when there is none), as mailparser decoded it. */
  text: string;
  /** Set for `multipart/report; report-type=delivery-status` with a readable delivery-status part. */
  dsn: DeliveryStatus | undefined;
  /** Message-IDs of the returned message (message/rfc822 or text/rfc822-headers part of a report). */
  returnedMessageIds: string[];
  /** Message-IDs written in a quoted `Message-ID:` header line anywhere in the text parts (a non-standard bounce). */
  quotedMessageIds: string[];
  /** All text of the message, lower-cased, for "does the bounce name this address" (non-standard bounces). */
  searchable: string;
}

/** Header values hold several ids: "<a@x> <b@y>", possibly folded, with comments. */
export function messageIdsIn(value: string | undefined): string[] {
  if (!value) return [];
  return [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => `<${m[1]!}>`);
}

const AUTO_PRECEDENCE = /^\s*(auto_reply|bulk|junk)\b/i;
const MAIL_SYSTEM = /^(mailer-daemon|postmaster|mail-daemon)@/i;

function header(mail: ParsedMail, name: string): string | undefined {
  const line = mail.headerLines?.find((l) => l.key === name)?.line;
  return line === undefined ? undefined : line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim();
}

function firstAddress(from: AddressObject | AddressObject[] | undefined): string | undefined {
  const list = Array.isArray(from) ? from : from ? [from] : [];
  for (const group of list) for (const a of group.value) if (a.address) return a.address;
  return undefined;
}

/** Message-IDs in header lines `Message-ID: <…>` of quoted text (lines may be indented or `> `-prefixed). */
function quotedIds(text: string): string[] {
  return [...text.matchAll(/^[> \t]*message-id:[ \t]*(<[^<>\s]+>)/gim)].map((m) => m[1]!);
}

/**
 * Reads a raw message into CustomerMailFacts with mailparser. The
 * delivery-status part is kept as a part (`keepDeliveryStatus`), and a
 * returned message is kept whole (`ignoreEmbedded`) so its own headers are
 * read here and never mixed into the report's. Rejects only when mailparser
 * does (the caller then leaves the message to normal intake).
 */
export async function readCustomerMail(raw: Buffer): Promise<CustomerMailFacts> {
  const mail = await simpleParser(raw, { keepDeliveryStatus: true, ignoreEmbedded: true, skipHtmlToText: false, skipTextLinks: true, skipImageLinks: true, skipTextToHtml: true, maxHtmlLengthToParse: 2_000_000 });
  const contentType = mail.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  const isDsnReport = contentType?.value?.toLowerCase() === 'multipart/report' && contentType.params?.['report-type']?.toLowerCase() === 'delivery-status';
  let dsn: DeliveryStatus | undefined;
  const returnedMessageIds: string[] = [];
  const texts: string[] = [mail.text ?? (typeof mail.html === 'string' ? mail.html.replace(/<[^>]+>/g, ' ') : '')];
  for (const part of mail.attachments ?? []) {
    const type = (part.contentType ?? '').toLowerCase();
    if (!/^(text\/|message\/)/.test(type)) continue;
    const body = part.content.toString('utf8');
    texts.push(body);
    if (!isDsnReport) continue;
    if ((type === 'message/delivery-status' || type === 'message/global-delivery-status') && dsn === undefined) dsn = readDeliveryStatus(body);
    if (type === 'message/rfc822' || type === 'text/rfc822-headers' || type === 'message/global' || type === 'message/global-headers') {
      returnedMessageIds.push(...messageIdsIn(firstField(readArfFields(body), 'message-id')));
    }
  }
  const autoMarkers: string[] = [];
  for (const name of ['x-autoreply', 'x-autorespond']) {
    const v = header(mail, name);
    if (v !== undefined) autoMarkers.push(`${name}: ${v}`);
  }
  const precedence = header(mail, 'precedence');
  if (precedence !== undefined && AUTO_PRECEDENCE.test(precedence)) autoMarkers.push(`precedence: ${precedence}`);
  const from = firstAddress(mail.from);
  const returnPath = header(mail, 'return-path');
  const all = texts.join('\n');
  return {
    messageId: messageIdsIn(header(mail, 'message-id'))[0],
    from,
    subject: mail.subject ?? '',
    inReplyTo: messageIdsIn(header(mail, 'in-reply-to')),
    references: messageIdsIn(header(mail, 'references')),
    autoSubmitted: header(mail, 'auto-submitted')?.split(';')[0]?.replace(/\([^)]*\)/g, '').trim().toLowerCase() || undefined,
    autoMarkers,
    fromMailSystem: (from !== undefined && MAIL_SYSTEM.test(from)) || returnPath?.replace(/\s/g, '') === '<>',
    text: texts[0]!,
    dsn: isDsnReport ? dsn : undefined,
    returnedMessageIds,
    quotedMessageIds: quotedIds(all),
    searchable: all.toLowerCase(),
  };
}
