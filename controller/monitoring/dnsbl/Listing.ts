import type { DnsblCategory } from './DnsblZone.js';

/**
 * An address newly on a blocklist, as the monitor reports it (onListed):
 * what the provider's own monitoring files as a complaint.
 */
export interface Listing {
  hostId: string;
  /** Canonical text (dotted quad, or RFC 5952 IPv6). */
  ip: string;
  zone: string;
  /** Every return code the zone answered, in numeric order, ignored ones (PBL) included. */
  codes: string[];
  /** The reportable codes not seen at the last answer: all of them for a fresh listing. */
  newCodes: string[];
  /** The list names of the reportable codes ("SBL", "XBL"), without repeats. */
  lists: string[];
  /** The complaint's category (readReturnCodes.mainCategory); `unknown` when no code is in the zone's table. */
  category: Exclude<DnsblCategory, 'ignore'>;
  /** Every reportable code's category, without repeats. */
  categories: Exclude<DnsblCategory, 'ignore'>[];
  /** The zone's TXT records for the address (its reason, often a lookup URL); may be empty. */
  reasons: string[];
  /** When the answer came. */
  checkedAt: Date;
  /**
   * No earlier answer for this address and zone in this process. The
   * monitor keeps what it saw in memory, so after a restart a listing that
   * was already reported is reported again, with this set, unless the
   * monitor was told of it (DnsblMonitorDeps.reported).
   */
  firstAnswer: boolean;
}

/** An address reported listed that the zone no longer lists for any reportable code (onDelisted). */
export interface Delisting {
  hostId: string;
  ip: string;
  zone: string;
  /** The reportable codes it was listed with at the last answer. */
  codes: string[];
  lists: string[];
  /** When this process first reported the listing. */
  listedSince: Date;
  /** When the answer without it came. */
  checkedAt: Date;
}

/** A listing reported before this process started (DnsblMonitorDeps.reported): what the monitor compares the first answer with. */
export interface ReportedListing {
  ip: string;
  zone: string;
  /** The reportable codes reported. */
  codes: string[];
  lists: string[];
  /** When it was first reported. */
  since: Date;
}
