import { firstField, readArfFields } from './formats/arfFields.js';
import { readArfOriginalHeaders } from './formats/arfOriginal.js';
import { looksLikeMail } from './readMessage.js';
import type { ParsedMessage } from './types.js';

/** "<abc@example.org> (comment)" → "abc@example.org"; a bare id without brackets is taken as it is; junk gives undefined. */
export function messageIdOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const bracketed = /<([^<>\s]+)>/.exec(value)?.[1];
  if (bracketed) return bracketed;
  const bare = value.trim();
  return bare && !/[\s<>]/.test(bare) ? bare : undefined;
}

/**
 * The Message-ID of a report, and that of the original message it quotes
 * (ARF's message/rfc822 or text/rfc822-headers part, or a forwarded message
 * attached as message/rfc822), both without angle brackets. With them a
 * report sent twice, or two reports about the same spam run, can be
 * recognised. Undefined when the report is no mail or has none.
 */
export function readMessageIds(message: ParsedMessage): { messageId: string | undefined; originalMessageId: string | undefined } {
  const messageId = messageIdOf(message.headers.get('message-id'));
  const original = messageIdOf(firstField(readArfOriginalHeaders(message), 'message-id'));
  return { messageId, originalMessageId: original !== messageId ? original : undefined };
}

/**
 * The Message-ID from the raw header block alone (its first 64 KiB), for a
 * report that was not read: over a limit, or its parse worker failed.
 */
export function rawMessageId(raw: Buffer): string | undefined {
  if (!looksLikeMail(raw)) return undefined;
  return messageIdOf(firstField(readArfFields(raw.subarray(0, 64 * 1024).toString('latin1')), 'message-id'));
}
