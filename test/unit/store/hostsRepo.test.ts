import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testEngine } from '../../helpers/testStore.js';
import { parseCidr } from '../../../proto/runtime/cidr.js';
import { prefixKeys } from '../../../controller/store/addressKey.js';
import { CachedInventory } from '../../../controller/store/CachedInventory.js';
import { lookupSql } from '../../../controller/store/HostsRepo.js';
import type { Store } from '../../../controller/store/Store.js';
import { fileStore, host, seededStore, tempDir } from './storeFixtures.js';

/**
 * Stores a prefix nested in another host's, bypassing HostsRepo's overlap
 * rule: the rule forbids carve-outs today, but the lookup itself must still
 * pick the longest prefix should they ever be allowed.
 */
async function carveOut(store: Store, hostId: string, prefix: string): Promise<void> {
  await store.hosts.add(host(hostId, []));
  const { first, last, length } = prefixKeys(parseCidr(prefix));
  await store.db.run('INSERT INTO host_prefixes VALUES (?, ?, 0, ?, ?, ?)', [prefix, hostId, length, first, last]);
}

const idOf = async (store: Store, ip: string) => (await store.hosts.findByIp(ip))?.id;

if (testEngine === 'postgresql') console.warn('SKIP hostsRepo.test.ts "looks up by index probes" on postgresql: it reads SQLite\'s EXPLAIN QUERY PLAN; PostgreSQL plans by statistics');

describe('HostsRepo', () => {
  it('stores hosts with canonical prefixes in their order, and lists them by id and by customer', async () => {
    const store = await fileStore();
    const added = await store.hosts.add(host('web-02', ['2001:DB8:2::/48', '198.51.100.0/24'], 'cust-2'));
    await store.hosts.add(host('web-01', ['203.0.113.0/24']));
    expect(added.publicPrefixes).toEqual(['2001:db8:2::/48', '198.51.100.0/24']);
    expect(await store.hosts.get('web-02')).toEqual(added);
    expect((await store.hosts.list()).map((h) => h.id)).toEqual(['web-01', 'web-02']);
    expect(await store.hosts.byCustomer('cust-2')).toEqual([added]);
    expect(await store.hosts.get('nope')).toBeUndefined();
    await expect(store.hosts.add(host('web-01', []))).rejects.toMatchObject({ kind: 'conflict', field: 'hosts[0].id' });
  });

  it('finds the host of an IPv4, IPv6 or IPv4-mapped address, edges included, and nothing for addresses not ours', async () => {
    const store = await seededStore();
    expect(await idOf(store, '203.0.113.0')).toBe('web-01');
    expect(await idOf(store, '203.0.113.255')).toBe('web-01');
    expect(await idOf(store, '::ffff:203.0.113.7')).toBe('web-01');
    expect(await idOf(store, '2001:db8:1:ffff:ffff:ffff:ffff:ffff')).toBe('web-01');
    expect(await idOf(store, '198.51.100.42')).toBe('web-02');
    expect(await idOf(store, '203.0.114.0')).toBeUndefined();
    expect(await idOf(store, '203.0.112.255')).toBeUndefined();
    expect(await idOf(store, '2001:db8:2::1')).toBeUndefined();
    // The IPv4 prefix's numbers as the low bits of an IPv6 address are another address.
    expect(await idOf(store, '::203.0.113.7')).toBeUndefined();
    await expect(store.hosts.findByIp('203.0.113')).rejects.toMatchObject({ kind: 'invalid', field: 'ip' });
  });

  it('picks the longest prefix: /32 over /24, /128 over /64', async () => {
    const store = await fileStore();
    await store.hosts.add(host('big', ['192.0.2.0/24', '2001:db8:5::/64']));
    await carveOut(store, 'small4', '192.0.2.77/32');
    await carveOut(store, 'small6', '2001:db8:5::77/128');
    expect(await idOf(store, '192.0.2.77')).toBe('small4');
    expect(await idOf(store, '192.0.2.76')).toBe('big');
    expect(await idOf(store, '2001:db8:5::77')).toBe('small6');
    expect(await idOf(store, '2001:db8:5::78')).toBe('big');
  });

  // SQLite's plan is fixed by the schema; PostgreSQL's planner chooses by table statistics (a scan of a few rows is its right answer).
  it.skipIf(testEngine === 'postgresql')('looks up by index probes, not a scan (SQLite)', async () => {
    const store = await seededStore();
    const plan = await store.db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${lookupSql(3)}`, Array(4).fill(Buffer.alloc(16)));
    expect(plan.map((p) => p.detail).join('\n')).toMatch(/SEARCH host_prefixes USING COVERING INDEX host_prefixes_by_range \(first_addr=\?/);
  });

  it('refuses a prefix overlapping a stored one, naming both, and changes nothing', async () => {
    const store = await seededStore();
    await expect(store.hosts.add(host('web-03', ['10.0.0.0/8', '203.0.113.128/25']))).rejects.toMatchObject({
      kind: 'conflict',
      field: 'hosts[0].publicPrefixes[1]',
      message: expect.stringMatching(/203.0.113.128\/25 overlaps 203.0.113.0\/24 of host web-01/),
    });
    await expect(store.hosts.add(host('web-03', ['2001:db8::/32']))).rejects.toThrow(/2001:db8::\/32 overlaps 2001:db8:1::\/48 of host web-01/);
    // IPv4-mapped IPv6 is the same address space as IPv4 here.
    await expect(store.hosts.add(host('web-03', ['::ffff:198.51.100.0/120']))).rejects.toThrow(/overlaps 198.51.100.0\/24 of host web-02/);
    // Inside one batch, and inside one host.
    await expect(store.hosts.upsertMany([host('a', ['192.0.2.0/24']), host('b', ['192.0.2.0/25'])])).rejects.toMatchObject({
      kind: 'conflict',
      field: 'hosts[1].publicPrefixes[0]',
      message: expect.stringMatching(/192.0.2.0\/25 overlaps 192.0.2.0\/24 of host a/),
    });
    await expect(store.hosts.upsertMany([host('c', []), host('a', ['192.0.2.0/24', '192.0.2.128/25'])])).rejects.toMatchObject({
      kind: 'invalid',
      field: 'hosts[1].publicPrefixes[1]',
    });
    await expect(store.hosts.upsertMany([host('a', []), host('a', [])])).rejects.toMatchObject({ kind: 'invalid', field: 'hosts[1].id' });
    expect(await store.hosts.get('web-03')).toBeUndefined();
    expect(await store.hosts.get('a')).toBeUndefined();
    expect(await store.hosts.get('c')).toBeUndefined();
  });

  it('upserts a batch atomically: prefixes replaced, moved between hosts of the batch, all or nothing', async () => {
    const store = await seededStore();
    await store.hosts.upsertMany([host('web-01', ['198.51.100.0/24'], 'cust-9'), host('web-02', ['203.0.113.0/24'], 'cust-2')]);
    expect(await store.hosts.get('web-01')).toEqual(host('web-01', ['198.51.100.0/24'], 'cust-9'));
    expect(await idOf(store, '203.0.113.1')).toBe('web-02');
    expect(await idOf(store, '2001:db8:1::1')).toBeUndefined();

    const bad = store.hosts.upsertMany([host('web-01', ['192.0.2.0/24']), host('web-03', ['203.0.113.0/26'])]);
    await expect(bad).rejects.toMatchObject({ kind: 'conflict', field: 'hosts[1].publicPrefixes[0]' });
    expect(await store.hosts.get('web-01')).toEqual(host('web-01', ['198.51.100.0/24'], 'cust-9'));
    expect(await store.hosts.get('web-03')).toBeUndefined();
  });

  it('imports an inventory file, validated by parseInventory', async () => {
    const store = await fileStore();
    const dir = tempDir();
    const file = join(dir, 'inventory.json');
    writeFileSync(file, JSON.stringify({ hosts: [host('web-01', ['203.0.113.0/24'])] }));
    expect(await store.hosts.importFile(file)).toBe(1);
    expect(await idOf(store, '203.0.113.9')).toBe('web-01');
    writeFileSync(file, JSON.stringify({ hosts: [{ ...host('web-02', []), managementAddress: 'nope' }] }));
    await expect(store.hosts.importFile(file)).rejects.toMatchObject({ kind: 'invalid', field: 'hosts[0].managementAddress' });
  });

  it('serves the synchronous Inventory from a snapshot refreshed on demand', async () => {
    const store = await seededStore();
    const inventory = await CachedInventory.load(store.hosts);
    expect(inventory.get('web-01')?.customerId).toBe('cust-1');
    await store.hosts.add(host('web-03', []));
    expect(inventory.get('web-03')).toBeUndefined();
    await inventory.refresh();
    expect(inventory.list().map((h) => h.id)).toEqual(['web-01', 'web-02', 'web-03']);
  });
});
