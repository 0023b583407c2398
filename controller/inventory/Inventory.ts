import { readFileSync } from 'node:fs';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { parseCidr, parseIp, type Cidr } from '../../proto/runtime/cidr.js';
import { HOST_ID_PATTERN } from '../../proto/runtime/peerIdentity.js';

/** One dedicated server, as the provider's inventory describes it. */
export interface Host {
  id: string;
  customerId: string;
  /** Public prefixes routed to this host (IPv4 and IPv6, canonical CIDR text). */
  publicPrefixes: string[];
  /** The address the host's agent uses on the management network. */
  managementAddress: string;
}

/** Read access to the hosts the controller manages. */
export interface Inventory {
  get(hostId: string): Host | undefined;
  list(): Host[];
}

/** An inventory held in memory, validated as a whole when built. */
export class StaticInventory implements Inventory {
  private readonly hosts: Map<string, Host>;

  constructor(hosts: Host[]) {
    this.hosts = new Map(hosts.map((h) => [h.id, h]));
  }

  get(hostId: string): Host | undefined {
    return this.hosts.get(hostId);
  }

  list(): Host[] {
    return [...this.hosts.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
}

function fail(field: string, message: string): never {
  throw new CordonError('invalid', message, { field });
}

/**
 * Validates raw inventory JSON. Two hosts may never share or overlap a public
 * prefix: a complaint's IP must name exactly one server.
 */
export function parseInventory(raw: unknown): Host[] {
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { hosts?: unknown }).hosts)) {
    fail('hosts', 'the inventory must be an object with a "hosts" array');
  }
  const hosts: Host[] = [];
  const seen = new Set<string>();
  const prefixes: { cidr: Cidr; hostId: string }[] = [];
  (raw as { hosts: unknown[] }).hosts.forEach((entry, i) => {
    const at = `hosts[${i}]`;
    if (typeof entry !== 'object' || entry === null) fail(at, 'must be an object');
    const e = entry as Record<string, unknown>;
    const id = e.id;
    if (typeof id !== 'string' || !HOST_ID_PATTERN.test(id)) fail(`${at}.id`, `must match ${HOST_ID_PATTERN}`);
    if (seen.has(id)) fail(`${at}.id`, `duplicate host id ${id}`);
    seen.add(id);
    if (typeof e.customerId !== 'string' || e.customerId === '') fail(`${at}.customerId`, 'must be a non-empty string');
    if (!Array.isArray(e.publicPrefixes)) fail(`${at}.publicPrefixes`, 'must be a list of CIDRs');
    const own: string[] = [];
    e.publicPrefixes.forEach((p, j) => {
      let cidr: Cidr;
      try {
        cidr = parseCidr(String(p));
      } catch (err) {
        fail(`${at}.publicPrefixes[${j}]`, (err as Error).message);
      }
      const clash = prefixes.find((o) => overlaps(o.cidr, cidr));
      if (clash) fail(`${at}.publicPrefixes[${j}]`, `${cidr.text} overlaps ${clash.cidr.text} of host ${clash.hostId}`);
      prefixes.push({ cidr, hostId: id });
      own.push(cidr.text);
    });
    const mgmt = e.managementAddress;
    if (typeof mgmt !== 'string') fail(`${at}.managementAddress`, 'must be an IP address');
    try {
      parseIp(mgmt);
    } catch (err) {
      fail(`${at}.managementAddress`, (err as Error).message);
    }
    hosts.push({ id, customerId: e.customerId, publicPrefixes: own, managementAddress: mgmt });
  });
  return hosts;
}

function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const bits = a.family === 4 ? 32 : 128;
  const shorter = BigInt(bits - Math.min(a.prefixLength, b.prefixLength));
  return a.network >> shorter === b.network >> shorter;
}

export function loadInventoryFile(path: string): StaticInventory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CordonError('invalid', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      field: 'inventory.file',
      cause: err,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CordonError('invalid', `${path} is not valid JSON: ${(err as Error).message}`, { field: 'inventory.file' });
  }
  return new StaticInventory(parseInventory(raw));
}
