import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseAddress } from '../../proto/runtime/address.js';

/** One controller to dial: where to connect, and which name its certificate must carry. */
export interface DialTarget {
  /** host:port (an IP when a name was resolved) handed to gRPC. */
  address: string;
  /** The name verified in the controller's certificate; undefined: the address's own host (an IP SAN). */
  serverName: string | undefined;
  /** For logs: the configured address, and the IP it resolved to when it was a name. */
  label: string;
}

/** Every address a name resolves to (A and AAAA), as node's dns.lookup with all: true gives them. */
export type LookupAll = (host: string) => Promise<{ address: string; family: number }[]>;

export const systemLookup: LookupAll = (host) => lookup(host, { all: true });

const hostPort = (ip: string, port: number) => (isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`);

/**
 * The list the agent dials, resolved now: each configured IP address as it
 * is, each DNS name expanded to every address it resolves to (sorted, so a
 * resolver that rotates its answers does not shuffle the order between
 * dials), duplicates dropped. A name's certificate is verified against the
 * name (or `serverName`), never the IP it resolved to. A name that does not
 * resolve stays in the list as the name: its dial then fails with gRPC's own
 * resolution error, which the link logs, and the link moves on.
 *
 * `serverName`, when set, is the name every controller's certificate must
 * carry, whatever the address.
 */
export async function resolveControllers(configured: readonly string[], serverName: string | undefined, lookupAll: LookupAll = systemLookup): Promise<DialTarget[]> {
  const targets: DialTarget[] = [];
  const seen = new Set<string>();
  const add = (t: DialTarget) => {
    if (seen.has(t.address)) return;
    seen.add(t.address);
    targets.push(t);
  };
  for (const entry of configured) {
    const { host, port } = parseAddress(entry);
    if (isIP(host)) {
      add({ address: entry, serverName, label: entry });
      continue;
    }
    let ips: string[] = [];
    try {
      ips = [...new Set((await lookupAll(host)).map((a) => a.address))].sort();
    } catch {
      // Left to the dial, which reports why the name does not resolve.
    }
    if (ips.length === 0) add({ address: entry, serverName: serverName ?? host, label: entry });
    for (const ip of ips) add({ address: hostPort(ip, port), serverName: serverName ?? host, label: `${entry} (${ip})` });
  }
  return targets;
}
