import { CANCELLED, NODATA, NOTFOUND, TIMEOUT } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { dnsblQueryName } from './dnsblQueryName.js';
import { byAddress } from './readReturnCodes.js';
import { DNSBL_ERROR_CODES, isDnsblErrorCode } from './zenReturnCodes.js';

export interface LookupOptions {
  /** DNS servers ("127.0.0.1:5353", "[::1]:53", "192.0.2.53"); empty: the system's. */
  servers: readonly string[];
  /** Bounds the whole lookup, A and TXT together. */
  timeoutMs: number;
  /** Whether these codes are worth a TXT query for the reason; default: every listing. */
  wantReason?: (codes: readonly string[]) => boolean;
}

/** One zone's answer about one address. */
export type DnsblAnswer =
  | { listed: false }
  | {
      listed: true;
      /** The A records (return codes), in numeric order. */
      codes: string[];
      /** The TXT records, each one's strings joined; empty when none, not asked, or not answered. */
      reasons: string[];
      /** Why the TXT query failed, when it did; the listing stands without it. */
      reasonError?: string;
    };

/** The answer as a function, so the monitor's tests can script it. */
export type LookupDnsbl = (ip: string, zone: string, opts: LookupOptions) => Promise<DnsblAnswer>;

/**
 * Asks `zone` whether it lists `ip` (RFC 5782): A records for the reversed
 * address under the zone are the return codes; NXDOMAIN means not listed, and
 * so does NODATA (the name exists without an A record: an empty
 * non-terminal of a zone that lists a longer name). The TXT record, the
 * list's reason, is asked only for a listing.
 *
 * Anything else is a failed check, thrown as a CordonError, never "not
 * listed" and never "listed": SERVFAIL, REFUSED, a timeout or an unreachable
 * server (`transient`); a DNSBL error code such as Spamhaus's 127.255.255.254
 * (`permission`, `invalid` or `transient`, per zenReturnCodes); an answer
 * outside 127.0.0.0/8, where RFC 5782 return codes live (`invalid`: a
 * resolver that rewrites NXDOMAIN into an address would otherwise list every
 * customer). An invalid `ip` throws `invalid` before any query.
 */
export const lookupDnsbl: LookupDnsbl = async (ip, zone, opts) => {
  const name = dnsblQueryName(ip, zone);
  // A resolver of its own, so the deadline can cancel this lookup's queries
  // (Resolver.cancel stops all of a resolver's) and no other. Two tries share
  // the budget; the timer stops whatever c-ares' own backoff leaves running.
  const resolver = new Resolver({ timeout: Math.max(1, Math.floor(opts.timeoutMs / 3)), tries: 2 });
  if (opts.servers.length > 0) resolver.setServers([...opts.servers]);
  const deadline = setTimeout(() => resolver.cancel(), opts.timeoutMs);
  try {
    let codes: string[];
    try {
      codes = (await resolver.resolve4(name)).sort(byAddress);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === NOTFOUND || code === NODATA) return { listed: false };
      throw failed(name, code === CANCELLED || code === TIMEOUT ? `no answer within ${opts.timeoutMs} ms` : `DNS error ${code ?? String(err)}`, 'transient', err);
    }
    if (codes.length === 0) return { listed: false };
    checkCodes(name, codes);
    if (!(opts.wantReason ?? (() => true))(codes)) return { listed: true, codes, reasons: [] };
    try {
      const txt = await resolver.resolveTxt(name);
      return { listed: true, codes, reasons: txt.map((chunks) => chunks.join('')) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === NOTFOUND || code === NODATA) return { listed: true, codes, reasons: [] };
      const why = code === CANCELLED || code === TIMEOUT ? `no TXT answer within ${opts.timeoutMs} ms` : `TXT: DNS error ${code ?? String(err)}`;
      return { listed: true, codes, reasons: [], reasonError: why };
    }
  } finally {
    clearTimeout(deadline);
  }
};

/** Throws when the codes are not a listing: a DNSBL error code, or no 127/8 address at all. */
function checkCodes(name: string, codes: readonly string[]): void {
  const error = codes.find(isDnsblErrorCode);
  if (error !== undefined) {
    const known = DNSBL_ERROR_CODES[error];
    throw failed(name, `answered ${error}: ${known?.reason ?? 'a DNSBL error code'}; not a listing`, known?.kind ?? 'transient');
  }
  const foreign = codes.find((c) => !c.startsWith('127.'));
  if (foreign !== undefined) throw failed(name, `answered ${foreign}, outside 127.0.0.0/8 where DNSBL codes live (a resolver rewriting NXDOMAIN?); not a listing`, 'invalid');
}

function failed(name: string, why: string, kind: 'invalid' | 'permission' | 'transient', cause?: unknown): CordonError {
  return new CordonError(kind, `DNSBL lookup of ${name} failed: ${why}`, { cause });
}
