import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../controller/inventory/Inventory.js';

const h = (id: string, prefixes: string[]) => ({ id, customerId: 'c', publicPrefixes: prefixes, managementAddress: '10.255.0.1' });

describe('parseInventory', () => {
  it('canonicalises prefixes', () => {
    expect(parseInventory({ hosts: [h('a', ['2001:DB8::/64'])] })[0]!.publicPrefixes).toEqual(['2001:db8::/64']);
  });
  it('refuses overlapping prefixes across hosts, naming both', () => {
    expect(() => parseInventory({ hosts: [h('a', ['203.0.113.0/24']), h('b', ['203.0.113.64/26'])] })).toThrow(
      /hosts\[1\].publicPrefixes\[0\]: 203.0.113.64\/26 overlaps 203.0.113.0\/24 of host a/,
    );
  });
  it('refuses duplicate ids and bad fields', () => {
    expect(() => parseInventory({ hosts: [h('a', []), h('a', [])] })).toThrow(/hosts\[1\].id: duplicate/);
    expect(() => parseInventory({ hosts: [{ ...h('a', []), managementAddress: 'x' }] })).toThrow(/managementAddress/);
    expect(() => parseInventory({})).toThrow(/"hosts" array/);
  });
});
