import { readFileSync } from 'node:fs';
import { CordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import { parseCidr } from '../../proto/runtime/cidr.js';
import { parseInventory, type Host } from '../inventory/Inventory.js';
import { candidateFirstKeys, ipKey, prefixKeys } from './addressKey.js';
import type { Database } from './Database.js';

interface HostPrefixRow {
  id: string;
  customer_id: string;
  management_address: string;
  prefix: string | null;
}

/** The longest-prefix match over `candidates` first keys; exported so a test can check its query plan. */
export const lookupSql = (candidates: number) =>
  `SELECT host_id FROM host_prefixes WHERE first_addr IN (${Array(candidates).fill('?').join(', ')}) AND last_addr >= ?
   ORDER BY prefix_len DESC LIMIT 1`;

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
  constructor(private readonly db: Database) {}

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
    const key = ipKey(ip);
    const firsts = candidateFirstKeys(key);
    const row = await this.db.get<{ host_id: string }>(lookupSql(firsts.length), [...firsts, key]);
    return row ? this.get(row.host_id) : undefined;
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
      const firsts = candidateFirstKeys(first);
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
