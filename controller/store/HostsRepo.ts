import { CordonError } from '../../proto/runtime/CordonError.js';
import { parseCidr } from '../../proto/runtime/cidr.js';
import { loadInventoryFile, parseInventory, type Host } from '../inventory/Inventory.js';
import { ipKey, prefixKeys } from './addressKey.js';
import type { Database } from './Database.js';

interface HostPrefixRow {
  id: string;
  customer_id: string;
  management_address: string;
  prefix: string | null;
}

const SELECT_HOSTS = `SELECT h.id, h.customer_id, h.management_address, p.prefix
  FROM hosts h LEFT JOIN host_prefixes p ON p.host_id = h.id`;

/**
 * The hosts and their public prefixes. Every write is validated by
 * parseInventory (ids, CIDRs canonicalised, management address) and then
 * checked against the prefixes already stored: no prefix may overlap any
 * other, of another host or the same one (the inventory's rule: a
 * complaint's IP names exactly one server). IPv4 and IPv6 share one key
 * space (addressKey.ts), so an IPv4-mapped IPv6 prefix overlaps the IPv4
 * prefix it maps.
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
    const [valid] = parseInventory({ hosts: [host] }) as [Host];
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
    const valid = parseInventory({ hosts });
    await this.db.transaction(async () => {
      // Free the batch's old prefixes first, so a prefix moving from one host
      // of the batch to another does not collide with its old self.
      for (const h of valid) await this.db.run('DELETE FROM host_prefixes WHERE host_id = ?', [h.id]);
      for (const [i, h] of valid.entries()) await this.write(h, `hosts[${i}].publicPrefixes`);
    });
  }

  /** Loads an inventory JSON file (controller/inventory's format) and upserts its hosts. Returns how many. */
  async importFile(path: string): Promise<number> {
    const hosts = loadInventoryFile(path).list();
    await this.upsertMany(hosts);
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
   * longest-prefix match; undefined when the address is not ours. One index
   * range scan: prefixes starting at or below the address, filtered in the
   * index on their end. `invalid` if `ip` is not an address.
   */
  async findByIp(ip: string): Promise<Host | undefined> {
    const key = ipKey(ip);
    const row = await this.db.get<{ host_id: string }>(
      `SELECT host_id FROM host_prefixes WHERE first_addr <= ? AND last_addr >= ? ORDER BY prefix_len DESC LIMIT 1`,
      [key, key],
    );
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
      const clash = await this.db.get<{ prefix: string; host_id: string }>(
        'SELECT prefix, host_id FROM host_prefixes WHERE first_addr <= ? AND last_addr >= ? LIMIT 1',
        [last, first],
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
