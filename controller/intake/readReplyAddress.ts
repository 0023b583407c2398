import type { ParsedMessage } from './types.js';

/** A bare address we are willing to write to: no spaces, brackets, quotes or commas; one @; a dotted domain. */
const ADDRESS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/;

/** The one address of a header value (`Name <a@b.example>` or `a@b.example`); undefined for a group, a list or junk. */
export function addressOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const bracketed = [...value.matchAll(/<([^<>]*)>/g)];
  const candidate = bracketed.length === 1 ? bracketed[0]![1]!.trim() : bracketed.length === 0 ? value.trim() : undefined;
  return candidate && candidate.length <= 254 && ADDRESS.test(candidate) ? candidate : undefined;
}

/**
 * Where the sender of a report wants answers: its Reply-To, else its From,
 * as one bare address. Undefined when neither holds exactly one readable
 * address. Whether anyone may write to it is the caller's decision: only a
 * report whose sender was authenticated (IncidentService).
 */
export function readReplyAddress(message: ParsedMessage): string | undefined {
  return addressOf(message.headers.get('reply-to')) ?? addressOf(message.headers.get('from'));
}
