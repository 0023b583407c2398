import { simpleParser, type ParsedMail } from 'mailparser';
import type { MessagePart, ParsedMessage } from './types.js';

/** Whether the bytes look like an RFC 822 message (a header block) rather than a bare JSON, CSV or XML file. */
export function looksLikeMail(raw: Buffer): boolean {
  const head = raw.subarray(0, 4096).toString('latin1');
  const firstBlock = head.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const lines = firstBlock.split(/\r?\n/).filter((l) => l && !/^\s/.test(l));
  return lines.length >= 2 && lines.every((l) => /^[!-9;-~]+:/.test(l) || /^From /.test(l));
}

/** Content type of a bare file, from its first bytes. */
function sniff(raw: Buffer): string {
  const head = raw.subarray(0, 512).toString('utf8').trimStart();
  if (raw[0] === 0x50 && raw[1] === 0x4b) return 'application/zip';
  if (head.startsWith('{') || head.startsWith('[')) return 'application/json';
  if (head.startsWith('<')) return 'application/xml';
  if (/^---/.test(head) || /^[A-Za-z-]+: /m.test(head.split('\n')[0] ?? '')) return 'text/plain';
  if (/^"?[a-z_]+"?,"?[a-z_]+"?/i.test(head)) return 'text/csv';
  return 'text/plain';
}

/**
 * Reads a raw message (RFC 822/MIME) or a bare file into the one shape the
 * format parsers read. Never throws on malformed input: what cannot be read
 * ends up as plain text.
 */
export async function readMessage(raw: Buffer, filename?: string): Promise<ParsedMessage> {
  if (!looksLikeMail(raw)) {
    const contentType = sniff(raw);
    return { headers: new Map(), from: undefined, date: undefined, subject: '', text: contentType.startsWith('text/') ? raw.toString('utf8') : '', parts: [{ contentType, filename, content: raw }], raw };
  }
  let mail: ParsedMail;
  try {
    mail = await simpleParser(raw, { skipHtmlToText: false, skipTextLinks: true, skipImageLinks: true, maxHtmlLengthToParse: 2_000_000 });
  } catch {
    return { headers: new Map(), from: undefined, date: undefined, subject: '', text: raw.toString('utf8'), parts: [], raw };
  }
  const headers = new Map<string, string>();
  for (const line of mail.headerLines ?? []) {
    if (!headers.has(line.key)) headers.set(line.key, line.line.slice(line.line.indexOf(':') + 1).trim());
  }
  const parts: MessagePart[] = (mail.attachments ?? []).map((a) => ({ contentType: (a.contentType ?? 'application/octet-stream').toLowerCase(), filename: a.filename, content: a.content }));
  const text = mail.text ?? (typeof mail.html === 'string' ? mail.html.replace(/<[^>]+>/g, ' ') : '');
  const date = mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date : undefined;
  return { headers, from: mail.from?.text, date, subject: mail.subject ?? '', text, parts, raw };
}
