import type { ParsedComplaint } from './types.js';

/** A parser's empty answer that says why an operator must look (parseReport makes it the needs_info reason). */
export type Declined = ParsedComplaint[] & { needsInfo?: string };

/**
 * "This is my format, and no offender can be read, because …": an empty
 * list carrying the reason, e.g. a report that names only a host name, or
 * an IODEF document with a DTD internal subset. The reason should name what
 * the report does say (the host, the field) so the operator starts there.
 */
export function declineWith(reason: string): ParsedComplaint[] {
  return Object.assign([] as ParsedComplaint[], { needsInfo: reason });
}

/** The reason a parser attached to its empty answer, if any. */
export function declinedReason(found: ParsedComplaint[]): string | undefined {
  const reason = (found as Declined).needsInfo;
  return typeof reason === 'string' && reason ? reason : undefined;
}
