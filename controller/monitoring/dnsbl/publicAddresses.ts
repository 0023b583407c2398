import { formatIp, parseCidr } from '../../../proto/runtime/cidr.js';

/** Addresses checked per IPv4 prefix at most: a /24. */
export const MAX_ADDRESSES_PER_PREFIX = 256;

/** A prefix not checked in full, and why (logged once per prefix). */
export interface UncheckedPrefix {
  hostId: string;
  prefix: string;
  /** `partly`: only its first MAX_ADDRESSES_PER_PREFIX addresses; `not`: none of it. */
  checked: 'partly' | 'not';
  reason: string;
}

/**
 * Every address the DNSBL checks ask about, from the hosts' public
 * prefixes (pure). IPv4: every address of a prefix up to a /24 (256
 * addresses, network and broadcast included: a routed prefix uses them
 * all); of a larger prefix only its first 256, and the prefix is named in
 * `unchecked`: a /16 would be 65,536 lookups per zone per check, which a
 * public DNSBL mirror answers with its rate-limit code, for every
 * customer. The first /24 of a block usually holds its gateway and its
 * first-assigned addresses, so it is worth checking; the rest is said to be
 * unchecked rather than silently left out. IPv6: only /128 prefixes (one
 * address); a /64 holds 2^64 addresses and cannot be enumerated, so it is
 * named in `unchecked` and not asked about. A prefix that does not parse
 * is named too (the inventory validates them, so it should not happen).
 */
export function publicAddresses(hosts: readonly { id: string; publicPrefixes: readonly string[] }[]): {
  addresses: { hostId: string; ip: string }[];
  unchecked: UncheckedPrefix[];
} {
  const addresses: { hostId: string; ip: string }[] = [];
  const unchecked: UncheckedPrefix[] = [];
  for (const h of hosts) {
    for (const text of h.publicPrefixes) {
      let cidr: ReturnType<typeof parseCidr>;
      try {
        cidr = parseCidr(text);
      } catch (err) {
        unchecked.push({ hostId: h.id, prefix: text, checked: 'not', reason: (err as Error).message });
        continue;
      }
      if (cidr.family === 6) {
        if (cidr.prefixLength === 128) addresses.push({ hostId: h.id, ip: formatIp(6, cidr.network) });
        else unchecked.push({ hostId: h.id, prefix: cidr.text, checked: 'not', reason: `an IPv6 /${cidr.prefixLength} cannot be enumerated; only /128 prefixes are checked` });
        continue;
      }
      const size = 2 ** (32 - cidr.prefixLength);
      const count = Math.min(size, MAX_ADDRESSES_PER_PREFIX);
      for (let i = 0; i < count; i++) addresses.push({ hostId: h.id, ip: formatIp(4, cidr.network + BigInt(i)) });
      if (size > count) {
        const first = `${formatIp(4, cidr.network)}/24`;
        unchecked.push({ hostId: h.id, prefix: cidr.text, checked: 'partly', reason: `${size} addresses: only the first ${count} (${first}) are checked` });
      }
    }
  }
  return { addresses, unchecked };
}
