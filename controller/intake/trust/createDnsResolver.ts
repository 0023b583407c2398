import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DNSResolver } from 'mailauth';
import { CordonError } from '../../../proto/runtime/CordonError.js';

/**
 * A DNS resolver for mailauth (`resolver(name, rrtype)`): `servers`
 * ("127.0.0.1:5353", "[::1]:53", "192.0.2.53") when given, else the
 * system's. Short timeouts: a report waits on DNS, and a failed lookup only
 * makes it untrusted (temperror), never lost.
 */
export function createDnsResolver(servers?: readonly string[]): DNSResolver {
  const resolver = new Resolver({ timeout: 2_000, tries: 2 });
  if (servers && servers.length > 0) resolver.setServers([...servers]);
  return (name, rrtype) => (resolver.resolve as (n: string, t: string) => Promise<string[][] | string[]>)(name, rrtype);
}

/** Checks a list of DNS servers as Resolver.setServers takes them: an IP address, "IPv4:port" or "[IPv6]:port". `invalid` names `field[i]`. */
export function validateDnsServers(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw new CordonError('invalid', 'must be a list of DNS servers ("127.0.0.1:5353", "[::1]:53")', { field });
  return value.map((v, i) => {
    const m = typeof v === 'string' ? /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(v) : null;
    const ok = typeof v === 'string' && (isIP(v) !== 0 || (m !== null && isIP(m[1] ?? m[2]!) === (m[1] ? 6 : 4) && Number(m[3]) >= 1 && Number(m[3]) <= 65535));
    if (!ok) throw new CordonError('invalid', `${JSON.stringify(v)} is not an IP address, IPv4:port or [IPv6]:port`, { field: `${field}[${i}]` });
    return v as string;
  });
}
