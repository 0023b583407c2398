import { describe, expect, it } from 'vitest';
import { BadTokenLimiter, sourceKey } from './BadTokenLimiter.js';

describe('BadTokenLimiter', () => {
  it('lets an address miss perMinute times, then makes it wait until one unit refilled', () => {
    let now = 0;
    const l = new BadTokenLimiter(6, () => now);
    for (let n = 0; n < 6; n++) {
      expect(l.retryAfter('192.0.2.1')).toBe(0);
      l.miss('192.0.2.1');
    }
    expect(l.retryAfter('192.0.2.1')).toBe(10); // one of 6 per minute: 10 s
    expect(l.retryAfter('192.0.2.2')).toBe(0);
    now += 9_000;
    expect(l.retryAfter('192.0.2.1')).toBe(1);
    now += 1_000;
    expect(l.retryAfter('192.0.2.1')).toBe(0);
    now += 60_000;
    expect(l.retryAfter('192.0.2.1')).toBe(0);
    expect(l.size).toBe(0); // a full bucket is forgotten
  });

  it('counts IPv6 per /64 and an IPv4-mapped address as IPv4', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('192.0.2.7')).toBe('192.0.2.7');
    const l = new BadTokenLimiter(2, () => 0);
    l.miss('2001:db8:1:2::1');
    l.miss('2001:db8:1:2::2');
    expect(l.retryAfter('2001:db8:1:2::3')).toBeGreaterThan(0);
    expect(l.retryAfter('2001:db8:1:3::1')).toBe(0);
  });

  it('stays bounded: past maxSources the least recently charged goes first', () => {
    const l = new BadTokenLimiter(1, () => 0, 3);
    for (const a of ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']) l.miss(a);
    expect(l.size).toBe(3);
    expect(l.retryAfter('192.0.2.1')).toBe(0);
    expect(l.retryAfter('192.0.2.4')).toBeGreaterThan(0);
  });
});
