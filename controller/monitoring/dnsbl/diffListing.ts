import type { DnsblZone } from './DnsblZone.js';
import type { Delisting, Listing } from './Listing.js';
import type { DnsblAnswer } from './lookupDnsbl.js';
import { byAddress, mainCategory, readReturnCodes } from './readReturnCodes.js';

/** What the monitor remembers of a reported listing, per address and zone. */
export interface KnownListing {
  /** The reportable codes at the last answer. */
  codes: string[];
  lists: string[];
  since: Date;
}

export type ListingChange =
  /** A reportable code appeared: report it; remember `known` once the report went through. */
  | { type: 'listed'; listing: Listing; known: KnownListing }
  /** No reportable code is left: report it; forget the listing once the report went through. */
  | { type: 'delisted'; delisting: Delisting }
  /** Nothing to report; `known` is what to remember (fewer codes when some went away). */
  | { type: 'same'; known: KnownListing | undefined };

export interface DiffInput {
  known: KnownListing | undefined;
  answer: DnsblAnswer;
  zone: DnsblZone;
  hostId: string;
  ip: string;
  checkedAt: Date;
  firstAnswer: boolean;
}

/**
 * Compares a zone's answer with what was known (pure). A listing is new when
 * a reportable code appears that the last answer lacked: a fresh listing, or
 * one on another list (SBL, then also XBL). Losing some codes but not all is
 * remembered without a report, so a code coming back is reported again. An
 * address on ignored lists only (PBL) counts as not listed.
 */
export function diffListing(d: DiffInput): ListingChange {
  const codes = d.answer.listed ? d.answer.codes : [];
  const { reportable } = readReturnCodes(codes, d.zone);
  if (reportable.length === 0) {
    if (!d.known) return { type: 'same', known: undefined };
    const delisting: Delisting = { hostId: d.hostId, ip: d.ip, zone: d.zone.zone, codes: d.known.codes, lists: d.known.lists, listedSince: d.known.since, checkedAt: d.checkedAt };
    return { type: 'delisted', delisting };
  }
  const current = reportable.map((m) => m.code);
  const lists = unique(reportable.map((m) => m.list));
  const newCodes = current.filter((c) => !d.known?.codes.includes(c));
  const known: KnownListing = { codes: current, lists, since: d.known?.since ?? d.checkedAt };
  if (newCodes.length === 0) return { type: 'same', known };
  const categories = unique(reportable.map((m) => m.category)) as Listing['categories'];
  const listing: Listing = {
    hostId: d.hostId,
    ip: d.ip,
    zone: d.zone.zone,
    codes: [...codes].sort(byAddress),
    newCodes,
    lists,
    category: mainCategory(reportable) as Listing['category'],
    categories,
    reasons: d.answer.listed ? d.answer.reasons : [],
    checkedAt: d.checkedAt,
    firstAnswer: d.firstAnswer,
  };
  return { type: 'listed', listing, known };
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}
