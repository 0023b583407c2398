import type { ParsedMessage } from '../types.js';
import { readArfFields } from './arfFields.js';

/**
 * Headers of the original message attached to an ARF report (RFC 5965 §2
 * (d): a message/rfc822 or text/rfc822-headers part), or an empty map.
 *
 * mailparser folds an attached message/rfc822 into the body text and keeps
 * only a few of its headers there, so when no such part is listed the part
 * is found in the raw bytes instead: after its own MIME headers comes the
 * original's header block. A part sent base64-encoded then yields no usable
 * fields, which only costs the evidence pointer and the date fallback.
 *
 * Used for the Message-ID (evidence) and, when the report has no
 * Source-IP, the Received chain (receivedChain.entryHop, which walks it from
 * the reporter's side and stops at the first outside sender).
 */
export function readArfOriginalHeaders(message: ParsedMessage): Map<string, string[]> {
  const part = message.parts.find((p) => p.contentType === 'message/rfc822' || p.contentType === 'text/rfc822-headers');
  if (part) return readArfFields(part.content.toString('utf8'));
  const raw = message.raw.toString('latin1');
  const start = /^content-type:[ \t]*(?:message\/rfc822|text\/rfc822-headers)\b/im.exec(raw);
  if (!start) return new Map();
  const rest = raw.slice(start.index);
  const body = /\r?\n\r?\n/.exec(rest);
  if (!body) return new Map();
  return readArfFields(rest.slice(body.index + body[0].length, body.index + body[0].length + 64 * 1024));
}

/**
 * The header block of an original pasted into a notice's text ("show
 * original", a forward with full headers): the block that holds its first
 * Received: line, read from that block's start. Empty when the text holds
 * none.
 */
export function readInlineOriginalHeaders(text: string): Map<string, string[]> {
  const at = /^Received:[ \t]/im.exec(text);
  if (!at) return new Map();
  let start = 0;
  for (const m of text.slice(0, at.index).matchAll(/\n[ \t]*\r?\n/g)) start = m.index + m[0].length;
  return readArfFields(text.slice(start, at.index + 64 * 1024));
}
