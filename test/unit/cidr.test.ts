import { describe, expect, it } from 'vitest';
import { cidrContains, collapseCidrs, formatIp, parseCidr, parseIp } from '../../proto/runtime/cidr.js';

describe('cidr', () => {
  it('parses and canonicalises IPv4 and IPv6', () => {
    expect(parseCidr('203.0.113.0/24').text).toBe('203.0.113.0/24');
    expect(parseCidr('2001:0db8:0000::/48').text).toBe('2001:db8::/48');
    expect(parseCidr('198.51.100.7').text).toBe('198.51.100.7/32');
    expect(parseCidr('::ffff:192.0.2.1/128').text).toBe('::ffff:c000:201/128');
  });
  it('refuses host bits, bad lengths and garbage', () => {
    expect(() => parseCidr('10.0.0.1/8')).toThrow(/host bits set \(did you mean 10.0.0.0\/8\?\)/);
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/prefix length/);
    expect(() => parseCidr('10.0.0.0/8/1')).toThrow();
    expect(() => parseCidr('example.com/8')).toThrow(/not an IP/);
  });
  it('tests membership within one family only', () => {
    const v6 = parseCidr('2001:db8:10::/64');
    expect(cidrContains(v6, '2001:db8:10::25')).toBe(true);
    expect(cidrContains(v6, '2001:db8:11::25')).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0'), '2001:db8::1')).toBe(false);
  });
  it('formats per RFC 5952', () => {
    expect(formatIp(6, parseIp('2001:db8:0:0:1:0:0:1').value)).toBe('2001:db8::1:0:0:1');
    expect(formatIp(6, 0n)).toBe('::');
    expect(formatIp(6, parseIp('2001:db8:0:1:1:1:1:1').value)).toBe('2001:db8:0:1:1:1:1:1');
  });
  it('collapses covered prefixes and duplicates for nft interval sets', () => {
    const list = ['10.255.0.1/32', '10.255.0.0/16', '10.0.0.0/8', '198.51.100.0/24', '198.51.100.0/24'].map(parseCidr);
    expect(collapseCidrs(list).map((c) => c.text)).toEqual(['10.0.0.0/8', '198.51.100.0/24']);
  });
});
