import { CordonError } from '../../proto/runtime/CordonError.js';

/** One listening socket as `ss -H -tulnp` lists it. */
export interface Listener {
  protocol: 'tcp' | 'udp';
  /** "0.0.0.0", "::", "*" or one address (brackets and any %interface removed). */
  address: string;
  /** The interface the socket is bound to (`%eth0` in ss's column), if any. */
  boundInterface: string | undefined;
  port: number;
  /** The first owning process, when the kernel told (ss -p needs the right to see it: root). */
  process: string;
  pid: number;
}

/** Addresses that stand for every address of the host. */
export const WILDCARDS = new Set(['0.0.0.0', '::', '*']);

/** Splits ss's local-address column: `0.0.0.0:22`, `[::]:80`, `*:9090`, `127.0.0.53%lo:53`, `[fe80::1]%eth0:123`. */
export function splitLocal(text: string): { address: string; boundInterface: string | undefined; port: number } | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const port = Number(text.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65_535) return undefined;
  let host = text.slice(0, colon);
  let boundInterface: string | undefined;
  const pct = host.lastIndexOf('%');
  if (pct >= 0 && pct > host.lastIndexOf(']')) {
    boundInterface = host.slice(pct + 1);
    host = host.slice(0, pct);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') return undefined;
  return { address: host, boundInterface, port };
}

/**
 * Parses `ss -H -tulnp` (iproute2's column format: Netid State Recv-Q
 * Send-Q Local Peer [Process]). The process column is read from its
 * `users:((` start to the end of the line, because a process name may hold
 * spaces. A line that is not a TCP or UDP socket is skipped; output with no
 * line that parses while lines were given is refused rather than read as
 * "nothing listens".
 */
export function parseListeners(output: string): Listener[] {
  const out: Listener[] = [];
  let lines = 0;
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    lines++;
    const usersAt = line.indexOf('users:((');
    const head = (usersAt >= 0 ? line.slice(0, usersAt) : line).trim().split(/\s+/);
    if (head.length < 5) continue;
    const netid = head[0];
    if (netid !== 'tcp' && netid !== 'udp') continue;
    const local = splitLocal(head[4]!);
    if (!local) continue;
    let process = '';
    let pid = 0;
    if (usersAt >= 0) {
      const m = /^users:\(\("((?:[^"\\]|\\.)*)",pid=(\d+)/.exec(line.slice(usersAt));
      if (m) {
        process = m[1]!.slice(0, 64);
        pid = Number(m[2]);
      }
    }
    out.push({ protocol: netid, ...local, process, pid });
  }
  if (lines > 0 && out.length === 0) {
    throw new CordonError('internal', `ss -H -tulnp: no socket line in its output (${JSON.stringify(output.slice(0, 80))})`);
  }
  return out;
}

/**
 * The listeners reachable on a public interface: bound to every address
 * (and to no interface, or a public one), or to an address of a public
 * interface. Loopback and management addresses are not public.
 */
export function publicListeners(all: Listener[], publicInterfaces: string[], publicAddresses: Set<string>): Listener[] {
  return all.filter((l) => {
    if (l.boundInterface !== undefined && !publicInterfaces.includes(l.boundInterface)) return false;
    if (WILDCARDS.has(l.address)) return true;
    const plain = l.address.startsWith('::ffff:') ? l.address.slice(7) : l.address;
    return publicAddresses.has(plain) || publicAddresses.has(l.address);
  });
}

/** The addresses of the named interfaces in `ip -j addr show`'s JSON. */
export function interfaceAddresses(json: string, names: string[]): Set<string> {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new CordonError('internal', `ip -j addr show: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(doc)) throw new CordonError('internal', 'ip -j addr show: not a list of interfaces');
  const out = new Set<string>();
  for (const i of doc as { ifname?: unknown; addr_info?: { local?: unknown }[] }[]) {
    if (typeof i?.ifname !== 'string' || !names.includes(i.ifname)) continue;
    for (const a of i.addr_info ?? []) if (typeof a?.local === 'string') out.add(a.local);
  }
  return out;
}
