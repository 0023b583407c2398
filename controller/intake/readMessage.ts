import { simpleParser, type ParsedMail } from 'mailparser';
import { checkMimeShape } from './checkMimeShape.js';
import { DEFAULT_INTAKE_LIMITS, checkLimit, checkLineLengths, type IntakeLimits } from './limits.js';
import type { MessagePart, ParsedMessage } from './types.js';

/** Whether the bytes look like an RFC 822 message (a header block) rather than a bare JSON, CSV or XML file. */
export function looksLikeMail(raw: Buffer): boolean {
  const head = raw.subarray(0, 4096).toString('latin1');
  // JSON Lines: `{"ip":"…"}` per line is made of header-name characters and a colon, but no mail starts with a brace.
  if (/^\s*[[{]/.test(head)) return false;
  const firstBlock = head.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const lines = firstBlock.split(/\r?\n/).filter((l) => l && !/^\s/.test(l));
  return lines.length >= 2 && lines.every((l) => /^[!-9;-~]+:/.test(l) || /^From /.test(l));
}

/** Content type of a bare file, from its first bytes. */
function sniff(raw: Buffer): string {
  const head = raw.subarray(0, 512).toString('utf8').trimStart();
  if (raw[0] === 0x50 && raw[1] === 0x4b) return 'application/zip';
  if (raw[0] === 0x1f && raw[1] === 0x8b) return 'application/gzip'; // RFC 1952: not text, whatever its bytes look like
  if (head.startsWith('{') || head.startsWith('[')) return 'application/json';
  if (head.startsWith('<')) return 'application/xml';
  if (/^---/.test(head) || /^[A-Za-z-]+: /m.test(head.split('\n')[0] ?? '')) return 'text/plain';
  if (/^"?[a-z_]+"?,"?[a-z_]+"?/i.test(head)) return 'text/csv';
  return 'text/plain';
}

/** Parts the parsers read line by line: text and message parts, except JSON and XML, which may well be one long line. */
function isLineOriented(part: MessagePart): boolean {
  if (!/^(text\/|message\/)/.test(part.contentType) || part.contentType === 'text/html') return false;
  const first = part.content.subarray(0, 256).toString('latin1').trimStart()[0];
  return first !== '{' && first !== '[' && first !== '<';
}

/** Throws IntakeLimitError when a line the parsers would split on is over intake.limits.lineLength. */
function checkLines(message: ParsedMessage, limits: IntakeLimits): void {
  checkLineLengths(message.text, limits, 'the message text');
  message.parts.forEach((part, i) => {
    if (isLineOriented(part)) checkLineLengths(part.content, limits, `part ${part.filename ?? i + 1} (${part.contentType})`);
  });
}

/**
 * Reads a raw message (RFC 822/MIME) or a bare file into the one shape the
 * format parsers read, within `limits`: a message with more MIME parts or
 * deeper nesting than they allow is refused before mailparser builds it, and
 * a line longer than they allow before any parser splits it (both throw
 * IntakeLimitError). Never throws on malformed input otherwise: what cannot
 * be read ends up as plain text.
 */
export async function readMessage(raw: Buffer, filename?: string, limits: IntakeLimits = DEFAULT_INTAKE_LIMITS): Promise<ParsedMessage> {
  if (!looksLikeMail(raw)) {
    const contentType = sniff(raw);
    const message: ParsedMessage = { headers: new Map(), from: undefined, date: undefined, subject: '', text: '', parts: [{ contentType, filename, content: raw }], raw, limits };
    if (contentType.startsWith('text/')) {
      checkLineLengths(raw, limits, filename ?? 'the file');
      message.text = raw.toString('utf8');
    }
    return message;
  }
  checkMimeShape(raw, limits);
  let mail: ParsedMail;
  try {
    mail = await simpleParser(raw, { skipHtmlToText: false, skipTextLinks: true, skipImageLinks: true, maxHtmlLengthToParse: 2_000_000 });
  } catch {
    const text = raw.toString('utf8');
    checkLineLengths(text, limits, 'the message');
    return { headers: new Map(), from: undefined, date: undefined, subject: '', text, parts: [], raw, limits };
  }
  const headers = new Map<string, string>();
  for (const line of mail.headerLines ?? []) {
    if (!headers.has(line.key)) headers.set(line.key, line.line.slice(line.line.indexOf(':') + 1).trim());
  }
  const parts: MessagePart[] = (mail.attachments ?? []).map((a) => ({ contentType: (a.contentType ?? 'application/octet-stream').toLowerCase(), filename: a.filename, content: a.content }));
  // mailparser's own count, in case its tree differs from what checkMimeShape read.
  checkLimit(limits, 'mimeParts', parts.length + 1, 'the message');
  const text = mail.text ?? (typeof mail.html === 'string' ? mail.html.replace(/<[^>]+>/g, ' ') : '');
  const date = mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date : undefined;
  const message: ParsedMessage = { headers, from: mail.from?.text, date, subject: mail.subject ?? '', text, parts, raw, limits };
  checkLines(message, limits);
  return message;
}
