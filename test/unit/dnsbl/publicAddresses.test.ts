import { describe, expect, it } from 'vitest';
import { publicAddresses } from '../../../controller/monitoring/dnsbl/publicAddresses.js';

describe('publicAddresses: what the DNSBL checks ask about', () => {
  it('takes every address of an IPv4 prefix up to a /24, in order, network and broadcast included', () => {
    const { addresses, unchecked } = publicAddresses([
      { id: 'web-1', publicPrefixes: ['203.0.113.10/32', '198.51.100.8/30'] },
      { id: 'web-2', publicPrefixes: ['192.0.2.0/24'] },
    ]);
    expect(addresses.slice(0, 5)).toEqual([
      { hostId: 'web-1', ip: '203.0.113.10' },
      { hostId: 'web-1', ip: '198.51.100.8' },
      { hostId: 'web-1', ip: '198.51.100.9' },
      { hostId: 'web-1', ip: '198.51.100.10' },
      { hostId: 'web-1', ip: '198.51.100.11' },
    ]);
    const web2 = addresses.filter((a) => a.hostId === 'web-2');
    expect(web2).toHaveLength(256);
    expect([web2[0]!.ip, web2[255]!.ip]).toEqual(['192.0.2.0', '192.0.2.255']);
    expect(unchecked).toEqual([]);
  });

  it('checks only the first 256 addresses of a larger IPv4 prefix, and says so', () => {
    const { addresses, unchecked } = publicAddresses([{ id: 'colo-1', publicPrefixes: ['10.20.0.0/22'] }]);
    expect(addresses).toHaveLength(256);
    expect(addresses.at(-1)).toEqual({ hostId: 'colo-1', ip: '10.20.0.255' });
    expect(unchecked).toEqual([{ hostId: 'colo-1', prefix: '10.20.0.0/22', checked: 'partly', reason: '1024 addresses: only the first 256 (10.20.0.0/24) are checked' }]);
  });

  it('takes an IPv6 /128 canonically, and names any shorter IPv6 prefix as not checked', () => {
    const { addresses, unchecked } = publicAddresses([{ id: 'v6', publicPrefixes: ['2001:DB8:0::25/128', '2001:db8:1::/64', '2001:db8::26'] }]);
    expect(addresses).toEqual([
      { hostId: 'v6', ip: '2001:db8::25' },
      { hostId: 'v6', ip: '2001:db8::26' },
    ]);
    expect(unchecked).toEqual([{ hostId: 'v6', prefix: '2001:db8:1::/64', checked: 'not', reason: 'an IPv6 /64 cannot be enumerated; only /128 prefixes are checked' }]);
  });

  it('names a prefix that does not parse instead of throwing', () => {
    const { addresses, unchecked } = publicAddresses([{ id: 'odd', publicPrefixes: ['nonsense', '203.0.113.1/32'] }]);
    expect(addresses).toEqual([{ hostId: 'odd', ip: '203.0.113.1' }]);
    expect(unchecked).toMatchObject([{ hostId: 'odd', prefix: 'nonsense', checked: 'not' }]);
  });
});
