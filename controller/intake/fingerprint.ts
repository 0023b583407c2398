import { createHash } from 'node:crypto';
import { formatIp, parseIp } from '../../proto/runtime/cidr.js';

/** One spelling per address (2001:DB8::1 and 2001:db8:0::1 are one offender). */
function canonicalIp(ip: string): string {
  try {
    const p = parseIp(ip);
    return formatIp(p.family, p.value);
  } catch {
    return ip.trim().toLowerCase();
  }
}

export interface FingerprintInput {
  /** Who reported: the registered reporter's id when authenticated, else the reporter as the report names it. */
  reporter: string;
  ip: string;
  category: string;
  eventTime: Date | undefined;
  /** What the customer is shown of the evidence (an excerpt, or the evidence pointer). */
  evidence: string;
  /** The whole report: it stands in for the event time when the report gives none. */
  raw: string;
}

/**
 * A complaint's fingerprint: the same reporter, address, category, event
 * time and evidence make the same complaint, however it was re-sent (a new
 * Message-ID, a forward, a redelivery). Evidence is normalised (case, runs
 * of white space, line ends) so a re-wrapped copy still matches. Without an
 * event time the report's own bytes stand in for it, so two reports that
 * merely say "spam from A" at different times never match on the fingerprint
 * alone. Pure.
 */
export function fingerprintOf(c: FingerprintInput): string {
  const evidence = c.evidence.replace(/\s+/g, ' ').trim().toLowerCase();
  const when = c.eventTime ? c.eventTime.toISOString() : `raw:${createHash('sha256').update(c.raw).digest('hex')}`;
  const parts = [c.reporter.trim().toLowerCase(), canonicalIp(c.ip), c.category, when, createHash('sha256').update(evidence).digest('hex')];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}
