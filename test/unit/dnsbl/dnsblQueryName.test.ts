import { describe, expect, it } from 'vitest';
import { dnsblQueryName, parseDnsblAddress } from '../../../controller/monitoring/dnsbl/dnsblQueryName.js';
import { isCordonError } from '../../../proto/runtime/CordonError.js';

describe('DNSBL query names (RFC 5782)', () => {
  it('reverses the octets of an IPv4 address (§2.1)', () => {
    // Octets 203, 0, 113, 2 reversed: 2, 113, 0, 203 (not "2.0.113.203", which is 203.113.0.2).
    expect(dnsblQueryName('203.0.113.2', 'zen.spamhaus.org')).toBe('2.113.0.203.zen.spamhaus.org');
    expect(dnsblQueryName('203.113.0.2', 'zen.spamhaus.org')).toBe('2.0.113.203.zen.spamhaus.org');
    // RFC 5782 §5's test point: every IPv4 DNSxL lists 127.0.0.2.
    expect(dnsblQueryName('127.0.0.2', 'bl.example')).toBe('2.0.0.127.bl.example');
  });

  it('reverses all 32 nibbles of an IPv6 address (§2.4, its example)', () => {
    expect(dnsblQueryName('2001:db8:1:2:3:4:567:89ab', 'ugly.bl.example.net')).toBe(
      'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.bl.example.net',
    );
  });

  it('expands "::" and leading zeros, whatever the spelling', () => {
    const want = `1.0.0.0.${'0.'.repeat(20)}8.b.d.0.1.0.0.2.zen.test`;
    for (const spelling of ['2001:db8::1', '2001:DB8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8:0:0::0:1']) {
      expect(dnsblQueryName(spelling, 'zen.test')).toBe(want);
    }
    expect(dnsblQueryName('::', 'z.test')).toBe(`${'0.'.repeat(32)}z.test`);
    expect(dnsblQueryName('1::', 'z.test')).toBe(`${'0.'.repeat(28)}1.0.0.0.z.test`);
  });

  it('reads an IPv4-mapped address as IPv6, as the IPv6 test point ::FFFF:7F00:2 is (§5)', () => {
    const a = parseDnsblAddress('::ffff:127.0.0.2');
    expect(a).toMatchObject({ family: 6, ip: '::ffff:7f00:2' });
    expect(a.reversed).toBe(`2.0.0.0.0.0.f.7.f.f.f.f.${'0.'.repeat(19)}0`);
    expect(parseDnsblAddress('::FFFF:7F00:2').reversed).toBe(a.reversed);
  });

  it('gives the canonical text the monitor keys and reports by', () => {
    expect(parseDnsblAddress('2001:0DB8:0:0:0:0:0:0001').ip).toBe('2001:db8::1');
    expect(parseDnsblAddress('198.51.100.7')).toEqual({ family: 4, ip: '198.51.100.7', reversed: '7.100.51.198' });
  });

  it('refuses what is not an address, as invalid', () => {
    for (const bad of ['203.0.113', '203.0.113.256', '203.000.113.2', 'mail.example', '', 'fe80::1%eth0', '2001:db8::1::2', '203.0.113.0/24']) {
      let caught: unknown;
      try {
        parseDnsblAddress(bad);
      } catch (err) {
        caught = err;
      }
      expect(isCordonError(caught, 'invalid'), bad).toBe(true);
    }
  });
});
