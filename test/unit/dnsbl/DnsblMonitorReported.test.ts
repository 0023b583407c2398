import { describe, expect, it } from 'vitest';
import { DnsblMonitor, type DnsblMonitorDeps } from '../../../controller/monitoring/dnsbl/DnsblMonitor.js';
import type { Delisting, Listing, ReportedListing } from '../../../controller/monitoring/dnsbl/Listing.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import { FakeClock, settle } from '../bmc/FakeClock.js';
import { ScriptedLookup } from './ScriptedLookup.js';

const ZEN = 'zen.spamhaus.org';
const HOSTS = [
  { hostId: 'web-1', ip: '203.0.113.2' },
  { hostId: 'web-2', ip: '2001:db8::2' },
];

function setup(over: Partial<DnsblMonitorDeps> = {}) {
  const clock = new FakeClock();
  const dns = new ScriptedLookup();
  const listed: Listing[] = [];
  const delisted: Delisting[] = [];
  const monitor = new DnsblMonitor({
    zones: [{ zone: ZEN }],
    addresses: async () => HOSTS,
    onListed: async (l) => void listed.push(l),
    onDelisted: async (d) => void delisted.push(d),
    clock: () => clock.now(),
    log: silentLogger(),
    sleep: (ms, signal) => clock.sleep(ms, signal),
    lookup: dns.lookup,
    cacheMs: 0,
    ...over,
  });
  return { clock, dns, listed, delisted, monitor };
}

const SINCE = new Date('2026-02-01T00:00:00Z');

describe('DnsblMonitor: what was reported before this process (reported)', () => {
  it('reports neither a listing already reported nor its repeat, but its end, and then a new listing', async () => {
    const reported: ReportedListing[] = [{ zone: ZEN, ip: '2001:DB8:0::2', codes: ['127.0.0.2'], lists: ['SBL'], since: SINCE }];
    const { dns, listed, delisted, monitor } = setup({ reported: async () => reported });
    dns.list(ZEN, '2001:db8::2', ['127.0.0.2']);
    await monitor.checkOnce();
    expect(listed).toEqual([]);
    // Another list on top of the reported one: only the new code is new.
    dns.list(ZEN, '2001:db8::2', ['127.0.0.2', '127.0.0.4']);
    await monitor.checkOnce();
    expect(listed.map((l) => [l.newCodes, l.firstAnswer])).toEqual([[['127.0.0.4'], false]]);
    dns.clear(ZEN, '2001:db8::2');
    await monitor.checkOnce();
    expect(delisted).toEqual([expect.objectContaining({ hostId: 'web-2', ip: '2001:db8::2', codes: ['127.0.0.2', '127.0.0.4'], listedSince: SINCE })]);
  });

  it('reports the end of a listing that ended while the process was down', async () => {
    const { delisted, monitor } = setup({ reported: async () => [{ zone: ZEN, ip: '203.0.113.2', codes: ['127.0.0.2'], lists: ['SBL'], since: SINCE }] });
    const s = await monitor.checkOnce();
    expect(s.delisted).toHaveLength(1);
    expect(delisted[0]).toMatchObject({ ip: '203.0.113.2', lists: ['SBL'], listedSince: SINCE });
  });

  it('fails the check when what was reported cannot be read, and reads it again at the next', async () => {
    let calls = 0;
    const { dns, listed, monitor } = setup({
      reported: async () => {
        if (++calls === 1) throw new Error('store down');
        return [{ zone: ZEN, ip: '203.0.113.2', codes: ['127.0.0.2'], lists: ['SBL'], since: SINCE }];
      },
    });
    dns.list(ZEN, '203.0.113.2', ['127.0.0.2']);
    await expect(monitor.checkOnce()).rejects.toThrow(/store down/);
    expect(dns.calls).toHaveLength(0);
    await monitor.checkOnce();
    await monitor.checkOnce();
    expect(calls).toBe(2);
    expect(listed).toEqual([]);
  });
});

describe('DnsblMonitor: one replica of several (mayCheck)', () => {
  it('skips a scheduled check that is not its turn, and re-reads what was reported when its turn comes', async () => {
    let mine = false;
    let reads = 0;
    const { clock, dns, monitor } = setup({
      intervalMs: 3_600_000,
      spreadMs: 0,
      mayCheck: async () => mine,
      reported: async () => {
        reads++;
        return [];
      },
    });
    monitor.start();
    await settle();
    expect(dns.calls).toHaveLength(0);
    mine = true;
    clock.advance(3_600_000);
    await settle();
    expect(dns.calls).toHaveLength(2);
    expect(reads).toBe(1);
    mine = false;
    clock.advance(3_600_000);
    await settle();
    expect(dns.calls).toHaveLength(2);
    mine = true;
    clock.advance(3_600_000);
    await settle();
    expect(dns.calls).toHaveLength(4);
    expect(reads).toBe(2);
    await monitor.stop();
  });

  it('skips the check when it cannot tell whose turn it is', async () => {
    const { dns, monitor } = setup({ mayCheck: async () => Promise.reject(new Error('no database')) });
    monitor.start();
    await settle();
    expect(dns.calls).toHaveLength(0);
    await monitor.stop();
  });
});
