import type { ReporterKind } from '../../incidents/model.js';

/** One check that was made on a report, and what it gave. */
export interface AuthCheck {
  /** dkim, spf, dmarc, arc, alignment, registry, channel, header. */
  method: string;
  /** pass, fail, none, neutral, temperror, permerror, policy, … as the check says it. */
  result: string;
  /** The domain the check is about (a DKIM d=, the From domain, an ARC sealer). */
  domain?: string | undefined;
  /** Why, in a few words (e.g. "body hash did not verify"). */
  detail?: string | undefined;
}

/**
 * How a report was authenticated, and whether that makes it trusted.
 * Stored whole with each of its complaints; `cordonctl ingest --dry-run --json`
 * shows it. Trust belongs to a registered reporter, never to a format.
 */
export interface Authentication {
  /** The report is authenticated as a registered reporter whose kind the policy trusts. */
  trusted: boolean;
  /**
   * How it was authenticated: an aligned DKIM signature, an ARC seal of a
   * trusted forwarder, an operator's or a feed's certificate, the host's own
   * agent (its measurements), a DNS blocklist's answer to Cordon's own query
   * about one of our addresses, a detector's alert (CrowdSec, FastNetMon)
   * over its own token on the alerts listener; none.
   */
  via: 'dkim' | 'arc' | 'operator' | 'feed' | 'agent' | 'dnsbl' | 'alert' | 'none';
  /** The registered reporter it is authenticated as, when it is. */
  reporterId?: string | undefined;
  reporterName?: string | undefined;
  /** The registered reporter's kind (what the complaint is recorded as). */
  reporterKind?: ReporterKind | undefined;
  /** The authenticated domain (aligned with From), when any. */
  domain?: string | undefined;
  /** One line: why trusted, or why not. */
  reason: string;
  /** Every check made, in order. */
  checks: AuthCheck[];
}

/** A report that no check could vouch for. */
export function unauthenticated(reason: string, checks: AuthCheck[] = []): Authentication {
  return { trusted: false, via: 'none', reason, checks };
}

/** Where a report came in: the channel can vouch for it (a feed's certificate), or only relay it (an operator, a maildir). */
export type IntakeChannel =
  | { kind: 'relay'; actor: string }
  | { kind: 'feed'; feed: string; actor: string };

/** Authenticates a report's bytes (mail authentication and the reporter registry). Never throws for a bad report: it ends untrusted. */
export type AuthenticateReport = (raw: Buffer, channel: IntakeChannel) => Promise<Authentication>;
