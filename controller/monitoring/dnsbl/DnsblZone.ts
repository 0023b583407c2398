import { CordonError } from '../../../proto/runtime/CordonError.js';
import { CATEGORIES, type Category } from '../../incidents/model.js';
import { ZEN_RETURN_CODES, isDnsblErrorCode } from './zenReturnCodes.js';

/**
 * What a return code means for Cordon: a complaint category, `ignore` (a
 * listing that is policy, not abuse, such as Spamhaus PBL: never a
 * complaint), or `unknown` (a code the zone's table does not name).
 */
export type DnsblCategory = Category | 'ignore' | 'unknown';

export interface DnsblCode {
  /** The list's own name for it ("SBL", "XBL"), shown to operators. */
  list: string;
  category: DnsblCategory;
}

/** Return code ("127.0.0.2") → meaning. */
export type DnsblCodes = Readonly<Record<string, DnsblCode>>;

/** A zone as configured: `{ zone: "zen.spamhaus.org", codes?: {...} }`. */
export interface DnsblZoneConfig {
  zone: string;
  codes?: Record<string, { list: string; category: string }>;
}

/** A validated zone: a lower-case name without the trailing dot, and its full code table. */
export interface DnsblZone {
  zone: string;
  codes: DnsblCodes;
}

/** The categories a configured code may name; `unknown` is what a code without an entry gets. */
const CONFIGURABLE: readonly string[] = [...CATEGORIES, 'ignore'];

/**
 * The longest query name is an IPv6 address's 32 nibbles and their dots (64
 * characters) before the zone, and a name has at most 253 (RFC 1035).
 */
const MAX_ZONE_LENGTH = 253 - 64;

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const LOOPBACK_CODE = /^127\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

/**
 * The code table a zone gets when its config names none: Spamhaus ZEN's for
 * zen.spamhaus.org and a DQS key's KEY.zen.dq.spamhaus.net, otherwise none
 * (every listing of that zone is then `unknown`). A configured table replaces
 * this one; it is not merged, so what a zone means is read in one place.
 */
export function defaultCodesFor(zone: string): DnsblCodes {
  return zone === 'zen.spamhaus.org' || zone.endsWith('.zen.dq.spamhaus.net') ? ZEN_RETURN_CODES : {};
}

/**
 * Checks the configured zones (`monitoring.dnsbl.zones`) and fills in each
 * one's code table. Throws CordonError `invalid` naming the field
 * (`zones[1].zone`, `zones[0].codes["127.0.0.2"].category`).
 */
export function validateDnsblZones(value: unknown, field = 'zones'): DnsblZone[] {
  if (!Array.isArray(value)) throw new CordonError('invalid', 'must be a list of zones ([{"zone": "zen.spamhaus.org"}])', { field });
  const seen = new Set<string>();
  return value.map((entry, i) => {
    const zone = validateDnsblZone(entry, `${field}[${i}]`);
    if (seen.has(zone.zone)) throw new CordonError('invalid', `${zone.zone} is listed twice`, { field: `${field}[${i}].zone` });
    seen.add(zone.zone);
    return zone;
  });
}

/** Checks one zone; see validateDnsblZones. */
export function validateDnsblZone(value: unknown, field: string): DnsblZone {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CordonError('invalid', 'must be an object {"zone": ..., "codes": ...}', { field });
  const extra = Object.keys(value).filter((k) => k !== 'zone' && k !== 'codes');
  if (extra.length > 0) throw new CordonError('invalid', `unknown key ${JSON.stringify(extra[0])} (a zone has "zone" and "codes")`, { field: `${field}.${extra[0]}` });
  const { zone: rawZone, codes: rawCodes } = value as { zone?: unknown; codes?: unknown };
  const zone = validateZoneName(rawZone, `${field}.zone`);
  const codes = rawCodes === undefined ? defaultCodesFor(zone) : validateCodes(rawCodes, `${field}.codes`);
  return { zone, codes };
}

function validateZoneName(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new CordonError('invalid', 'must be a DNS zone name ("zen.spamhaus.org")', { field });
  const zone = value.toLowerCase().replace(/\.$/, '');
  const labels = zone.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) {
    throw new CordonError('invalid', `${JSON.stringify(value)} is not a host name of two labels or more (letters, digits, hyphens)`, { field });
  }
  if (zone.length > MAX_ZONE_LENGTH) throw new CordonError('invalid', `is ${zone.length} characters; an IPv6 query name leaves room for ${MAX_ZONE_LENGTH}`, { field });
  return zone;
}

function validateCodes(value: unknown, field: string): DnsblCodes {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CordonError('invalid', 'must map return codes to meanings ({"127.0.0.2": {"list": "SBL", "category": "spam"}})', { field });
  }
  const codes: Record<string, DnsblCode> = {};
  for (const [code, meaning] of Object.entries(value)) {
    const at = `${field}[${JSON.stringify(code)}]`;
    if (!LOOPBACK_CODE.test(code) || code.split('.').some((o) => Number(o) > 255)) {
      throw new CordonError('invalid', `${JSON.stringify(code)} is not a return code: DNSBLs answer with 127.x.y.z addresses (RFC 5782)`, { field: at });
    }
    if (isDnsblErrorCode(code)) throw new CordonError('invalid', '127.255.255.0/24 holds DNSBL error codes, which are never listings', { field: at });
    if (typeof meaning !== 'object' || meaning === null) throw new CordonError('invalid', 'must be {"list": ..., "category": ...}', { field: at });
    const { list, category } = meaning as { list?: unknown; category?: unknown };
    if (typeof list !== 'string' || list.trim() === '') throw new CordonError('invalid', 'must name the list ("SBL")', { field: `${at}.list` });
    if (typeof category !== 'string' || !CONFIGURABLE.includes(category)) {
      throw new CordonError('invalid', `must be one of ${CONFIGURABLE.join(', ')}`, { field: `${at}.category` });
    }
    codes[code] = { list: list.trim(), category: category as DnsblCategory };
  }
  return codes;
}
