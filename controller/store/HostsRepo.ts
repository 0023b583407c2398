import { readFileSync } from 'node:fs';
import { CordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import { parseCidr } from '../../proto/runtime/cidr.js';
import { parseInventory, type Host } from '../inventory/Inventory.js';
import { candidateFirstKeys, ipKey, prefixKeys } from './addressKey.js';
import type { SqlDatabase } from './SqlDatabase.js';

interface HostPrefixRow {
  id: string;
  customer_id: string;
  management_address: string;
  prefix: string | null;
}

/** The longest-prefix match over `candidates` first keys; exported so a test can check its query plan. */
export const lookupSql = (candidates: number) =>
  `SELECT host_prefixes.host_id, hosts.customer_id, host_prefixes.first_addr, host_prefixes.last_addr
   FROM host_prefixes JOIN hosts ON hosts.id = host_prefixes.host_id
   WHERE host_prefixes.first_addr IN (${Array(candidates).fill('?').join(', ')}) AND host_prefixes.last_addr >= ?
   ORDER BY host_prefixes.prefix_len DESC LIMIT 1`;

/** At most this many first keys can hold an address (candidateFirstKeys); lists are padded to it so one prepared statement serves all. */
const MAX_CANDIDATES = 129;

/** Candidate keys per batched lookup: under SQLite's 32,766 parameters. */
const MAX_BATCH_KEYS = 16_384;

/** `keys` padded to MAX_CANDIDATES by repeating its first (IN ignores repeats). */
function padded(keys: Buffer[]): Buffer[] {
  return keys.length >= MAX_CANDIDATES ? keys : [...keys, ...Array<Buffer>(MAX_CANDIDATES - keys.length).fill(keys[0]!)];
}

/** The prefix that holds an address, and its host: what HostMatcher caches. */
export interface PrefixMatch {
  hostId: string;
  customerId: string;
  /** The prefix's first and last address keys (addressKey.ts). */
  first: Buffer;
  last: Buffer;
}

const SELECT_HOSTS = `SELECT h.id, h.customer_id, h.management_address, p.prefix
  FROM hosts h LEFT JOIN host_prefixes p ON p.host_id = h.id`;

/**
 * The hosts and their public prefixes. Each host is validated by
 * parseInventory (id, CIDRs canonicalised, management address), then each
 * prefix is checked against every prefix already stored, the batch's
 * earlier ones included: no prefix may overlap any other, of another host or
 * the same one (the inventory's rule: a complaint's IP names exactly one
 * server). IPv4 and IPv6 share one key space (addressKey.ts), so an
 * IPv4-mapped IPv6 prefix overlaps the IPv4 prefix it maps.
 *
 * Hosts are validated one at a time, not as one parseInventory call, because
 * its overlap check compares every pair (about 35 s for 20,000 hosts); the
 * check here is two index lookups per prefix.
 *
 * Async, unlike the synchronous `Inventory` interface: see CachedInventory
 * for code that needs that.
 */
export class HostsRepo {
  constructor(private readonly db: SqlDatabase) {}

  /**
   * Adds a new host. `conflict` if the id exists or a prefix overlaps a
   * stored one; `invalid` for bad fields. Errors name fields as in a
   * one-host inventory (`hosts[0].publicPrefixes[1]`).
   */
  async add(host: Host): Promise<Host> {
    const valid = validHost(host, 'hosts[0]');
    return this.db.transaction(async () => {
      if (await this.db.get('SELECT 1 FROM hosts WHERE id = ?', [valid.id])) {
        throw new CordonError('conflict', `host ${valid.id} already exists`, { field: 'hosts[0].id' });
      }
      await this.write(valid, 'hosts[0].publicPrefixes');
      return valid;
    });
  }

  /**
   * Inserts or updates each host (customer, management address, and its
   * prefixes replaced as a whole), all or nothing. Hosts not in the list are
   * left as they are. A prefix may move between hosts of the same batch.
   */
  async upsertMany(hosts: Host[]): Promise<void> {
    if (!Array.isArray(hosts)) throw new CordonError('invalid', 'must be a list of hosts', { field: 'hosts' });
    const valid = hosts.map((h, i) => validHost(h, `hosts[${i}]`));
    const seen = new Set<string>();
    valid.forEach((h, i) => {
      if (seen.has(h.id)) throw new CordonError('invalid', `duplicate host id ${h.id}`, { field: `hosts[${i}].id` });
      seen.add(h.id);
    });
    await this.db.transaction(async () => {
      // Free the batch's old prefixes first, so a prefix moving from one host
      // of the batch to another does not collide with its old self.
      for (const h of valid) await this.db.run('DELETE FROM host_prefixes WHERE host_id = ?', [h.id]);
      for (const [i, h] of valid.entries()) await this.write(h, `hosts[${i}].publicPrefixes`);
    });
  }

  /**
   * Upserts the hosts of an inventory JSON file (`{"hosts": [...]}`, the
   * format of controller/inventory). Returns how many. `invalid` names the
   * file or the bad field.
   */
  async importFile(path: string): Promise<number> {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new CordonError('invalid', `cannot read ${path}: ${(err as Error).message}`, { field: 'inventory.file', cause: err });
    }
    const hosts = (raw as { hosts?: unknown } | null)?.hosts;
    if (!Array.isArray(hosts)) throw new CordonError('invalid', `${path}: the inventory must be an object with a "hosts" array`, { field: 'hosts' });
    await this.upsertMany(hosts as Host[]);
    return hosts.length;
  }

  async get(id: string): Promise<Host | undefined> {
    return (await this.select(`${SELECT_HOSTS} WHERE h.id = ?`, [id]))[0];
  }

  /** These hosts (those that exist), in one query per 1,000 ids. */
  async getMany(ids: readonly string[]): Promise<Host[]> {
    const out: Host[] = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const slice = ids.slice(i, i + 1000);
      const size = Math.max(16, 2 ** Math.ceil(Math.log2(slice.length)));
      out.push(...(await this.select(`${SELECT_HOSTS} WHERE h.id IN (${Array(size).fill('?').join(', ')})`, [...slice, ...Array<string>(size - slice.length).fill(slice[0]!)])));
    }
    return out;
  }

  /** Every host, ordered by id. */
  list(): Promise<Host[]> {
    return this.select(SELECT_HOSTS, []);
  }

  byCustomer(customerId: string): Promise<Host[]> {
    return this.select(`${SELECT_HOSTS} WHERE h.customer_id = ?`, [customerId]);
  }

  /**
   * The host whose prefix holds `ip` (IPv4, IPv6, or IPv4-mapped IPv6), by
   * longest-prefix match; undefined when the address is not ours. At most
   * 129 probes of the range index (candidateFirstKeys), whatever the number
   * of prefixes. `invalid` if `ip` is not an address.
   */
  async findByIp(ip: string): Promise<Host | undefined> {
    const match = await this.matchKey(ipKey(ip));
    return match ? this.get(match.hostId) : undefined;
  }

  /**
   * The longest-prefix match for an address key (ipKey): the prefix's range
   * and its host, in one query; undefined when the address is not ours.
   */
  async matchKey(key: Buffer): Promise<PrefixMatch | undefined> {
    const row = await this.db.get<{ host_id: string; customer_id: string; first_addr: Buffer; last_addr: Buffer }>(lookupSql(MAX_CANDIDATES), [
      ...padded(candidateFirstKeys(key)),
      key,
    ]);
    return row && { hostId: row.host_id, customerId: row.customer_id, first: row.first_addr, last: row.last_addr };
  }

  /**
   * Longest-prefix matches for many address keys in one query per ~30,000
   * candidate keys; a map from each key (hex) to its match, or null when
   * the address is not ours. Each match says whether another prefix is
   * nested inside it (then not every address in its range is its host's).
   */
  async matchKeys(keys: readonly Buffer[]): Promise<Map<string, (PrefixMatch & { nested: boolean }) | null>> {
    const candidatesOf = new Map<string, Buffer[]>();
    const all = new Map<string, Buffer>();
    for (const key of keys) {
      const c = candidateFirstKeys(key);
      candidatesOf.set(key.toString('hex'), c);
      for (const k of c) all.set(k.toString('hex'), k);
    }
    const starting = new Map<string, { hostId: string; customerId: string; first: Buffer; last: Buffer; length: number; nested: boolean }[]>();
    const list = [...all.values()];
    for (let i = 0; i < list.length; i += MAX_BATCH_KEYS) {
      const slice = list.slice(i, i + MAX_BATCH_KEYS);
      // Padded to a power of two, so a few prepared statements serve every batch.
      const size = Math.max(64, 2 ** Math.ceil(Math.log2(slice.length)));
      const rows = await this.db.all<{ host_id: string; customer_id: string; first_addr: Buffer; last_addr: Buffer; prefix_len: number; nested: number }>(
        `SELECT p.host_id, h.customer_id, p.first_addr, p.last_addr, p.prefix_len,
           EXISTS (SELECT 1 FROM host_prefixes n WHERE n.first_addr BETWEEN p.first_addr AND p.last_addr AND n.prefix <> p.prefix) AS nested
         FROM host_prefixes p JOIN hosts h ON h.id = p.host_id WHERE p.first_addr IN (${Array(size).fill('?').join(', ')})`,
        [...slice, ...Array<Buffer>(size - slice.length).fill(slice[0]!)],
      );
      for (const r of rows) {
        const hex = r.first_addr.toString('hex');
        const at = starting.get(hex) ?? [];
        at.push({ hostId: r.host_id, customerId: r.customer_id, first: r.first_addr, last: r.last_addr, length: r.prefix_len, nested: r.nested === 1 });
        starting.set(hex, at);
      }
    }
    const out = new Map<string, (PrefixMatch & { nested: boolean }) | null>();
    for (const key of keys) {
      let best: { hostId: string; customerId: string; first: Buffer; last: Buffer; length: number; nested: boolean } | undefined;
      for (const c of candidatesOf.get(key.toString('hex'))!) {
        for (const p of starting.get(c.toString('hex')) ?? []) {
          if (Buffer.compare(p.last, key) >= 0 && (!best || p.length > best.length)) best = p;
        }
      }
      out.set(key.toString('hex'), best ? { hostId: best.hostId, customerId: best.customerId, first: best.first, last: best.last, nested: best.nested } : null);
    }
    return out;
  }

  /** Whether another prefix starts inside [first, last]: then not every address there belongs to the match (a nested prefix). */
  async hasNested(match: PrefixMatch): Promise<boolean> {
    const row = await this.db.get(
      'SELECT 1 FROM host_prefixes WHERE first_addr BETWEEN ? AND ? AND NOT (first_addr = ? AND last_addr = ?) LIMIT 1',
      [match.first, match.last, match.first, match.last],
    );
    return row !== undefined;
  }

  /** Upserts the host row and inserts its prefixes, each checked against every stored prefix. */
  private async write(host: Host, field: string): Promise<void> {
    await this.db.run(
      `INSERT INTO hosts (id, customer_id, management_address) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, management_address = excluded.management_address`,
      [host.id, host.customerId, host.managementAddress],
    );
    for (const [j, text] of host.publicPrefixes.entries()) {
      const { first, last, length } = prefixKeys(parseCidr(text));
      // Prefixes are nested or disjoint: a stored one overlaps this one when
      // it holds this one's first address, or starts inside this one.
      const firsts = padded(candidateFirstKeys(first));
      const clash = await this.db.get<{ prefix: string; host_id: string }>(
        `SELECT prefix, host_id FROM host_prefixes WHERE first_addr IN (${firsts.map(() => '?').join(', ')}) AND last_addr >= ?
         UNION ALL
         SELECT prefix, host_id FROM host_prefixes WHERE first_addr BETWEEN ? AND ?
         LIMIT 1`,
        [...firsts, first, first, last],
      );
      if (clash) {
        throw new CordonError('conflict', `${text} overlaps ${clash.prefix} of host ${clash.host_id}`, { field: `${field}[${j}]` });
      }
      await this.db.run('INSERT INTO host_prefixes (prefix, host_id, position, prefix_len, first_addr, last_addr) VALUES (?, ?, ?, ?, ?, ?)', [
        text,
        host.id,
        j,
        length,
        first,
        last,
      ]);
    }
  }

  private async select(sql: string, params: string[]): Promise<Host[]> {
    const rows = await this.db.all<HostPrefixRow>(`${sql} ORDER BY h.id, p.position`, params);
    const hosts = new Map<string, Host>();
    for (const r of rows) {
      let h = hosts.get(r.id);
      if (!h) hosts.set(r.id, (h = { id: r.id, customerId: r.customer_id, publicPrefixes: [], managementAddress: r.management_address }));
      if (r.prefix !== null) h.publicPrefixes.push(r.prefix);
    }
    return [...hosts.values()];
  }
}

/** One host through parseInventory, its error fields renamed from `hosts[0]` to `at`. */
function validHost(host: unknown, at: string): Host {
  try {
    return parseInventory({ hosts: [host] })[0]!;
  } catch (err) {
    if (!isCordonError(err) || err.field === undefined || at === 'hosts[0]') throw err;
    const message = err.message.slice(err.field.length + 2); // CordonError writes "field: message"
    throw new CordonError(err.kind, message, { field: err.field.replace(/^hosts\[0\]/, at), cause: err });
  }
}
