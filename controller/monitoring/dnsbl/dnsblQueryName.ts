import { isIPv4, isIPv6 } from 'node:net';
import { CordonError } from '../../../proto/runtime/CordonError.js';

/** An address as the monitor keys and reports it, and the labels a DNSBL query puts before the zone. */
export interface DnsblAddress {
  family: 4 | 6;
  /** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as "::"). */
  ip: string;
  /** "2.0.113.203" for 203.0.113.2; 32 nibbles, least significant first, for IPv6. */
  reversed: string;
}

/**
 * Reads an address the way RFC 5782 queries it. IPv4 (§2.1): the four
 * octets in reverse order. IPv6 (§2.4): all 32 nibbles of the full address,
 * in reverse order, dot-separated, as in ip6.arpa. An IPv4-mapped IPv6
 * address stays IPv6, as the RFC's IPv6 test point (::FFFF:7F00:2) does.
 * Throws CordonError `invalid` for anything else, including scoped
 * link-local addresses ("fe80::1%eth0"), which no DNSBL lists.
 */
export function parseDnsblAddress(ip: string): DnsblAddress {
  if (isIPv4(ip)) return { family: 4, ip, reversed: ip.split('.').reverse().join('.') };
  if (isIPv6(ip) && !ip.includes('%')) {
    // The URL parser writes IPv6 canonically (RFC 5952), embedded IPv4 tails as hex.
    const canonical = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
    const nibbles = expandIPv6(canonical).join('').split('');
    return { family: 6, ip: canonical, reversed: nibbles.reverse().join('.') };
  }
  throw new CordonError('invalid', `${JSON.stringify(ip)} is not an IPv4 or IPv6 address`, { field: 'ip' });
}

/** The name to ask `zone` about `ip`: "2.0.113.203.zen.spamhaus.org". */
export function dnsblQueryName(ip: string, zone: string): string {
  return `${parseDnsblAddress(ip).reversed}.${zone}`;
}

/** Eight 4-digit hex groups of a canonical IPv6 address (hex groups, at most one "::"). */
function expandIPv6(canonical: string): string[] {
  const [head = '', tail] = canonical.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => g.padStart(4, '0'));
}
