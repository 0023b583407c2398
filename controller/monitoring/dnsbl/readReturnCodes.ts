import type { DnsblCategory, DnsblZone } from './DnsblZone.js';

/** One return code and what the zone's table says it means. */
export interface CodeMeaning {
  code: string;
  list: string;
  category: DnsblCategory;
}

/** A zone's answer for one address, split by what Cordon does with it. */
export interface ReadCodes {
  /** Codes that make a listing a complaint: every one not marked `ignore`, in numeric order. */
  reportable: CodeMeaning[];
  /** Codes marked `ignore` (Spamhaus PBL): the address is on a list, but not for abuse. */
  ignored: CodeMeaning[];
}

/** What `code` means in `zone`: its table's entry, or category `unknown` under the zone's name. */
export function meaningOf(code: string, zone: DnsblZone): CodeMeaning {
  const known = zone.codes[code];
  return known ? { code, ...known } : { code, list: zone.zone, category: 'unknown' };
}

/**
 * Splits the A records of a listing (no error codes: lookupDnsbl refuses
 * those) into reportable and ignored. Pure.
 */
export function readReturnCodes(codes: readonly string[], zone: DnsblZone): ReadCodes {
  const meanings = [...new Set(codes)].sort(byAddress).map((c) => meaningOf(c, zone));
  return { reportable: meanings.filter((m) => m.category !== 'ignore'), ignored: meanings.filter((m) => m.category === 'ignore') };
}

/**
 * The one category a complaint gets: the first reportable code's (numeric
 * order) that the table names, so SBL + XBL reads as spam; `unknown` only
 * when no code is known. Every category stays in the listing's `categories`.
 */
export function mainCategory(reportable: readonly CodeMeaning[]): DnsblCategory {
  return reportable.find((m) => m.category !== 'unknown')?.category ?? 'unknown';
}

/** Orders dotted quads by value, so 127.0.0.10 comes after 127.0.0.9. */
export function byAddress(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
