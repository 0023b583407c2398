import { describe, expect, it } from 'vitest';
import { DnsblMonitor, type DnsblMonitorDeps } from '../../../controller/monitoring/dnsbl/DnsblMonitor.js';
import type { Delisting, Listing } from '../../../controller/monitoring/dnsbl/Listing.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import { FakeClock, settle } from '../bmc/FakeClock.js';
import { ScriptedLookup } from './ScriptedLookup.js';

const ZEN = 'zen.spamhaus.org';
const HOSTS = [
  { hostId: 'web-1', ip: '203.0.113.2' },
  { hostId: 'web-2', ip: '2001:db8::2' },
  { hostId: 'web-3', ip: '198.51.100.7' },
];

function setup(over: Partial<DnsblMonitorDeps> = {}) {
  const clock = new FakeClock();
  const dns = new ScriptedLookup();
  const listed: Listing[] = [];
  const delisted: Delisting[] = [];
  let hosts = HOSTS;
  const monitor = new DnsblMonitor({
    zones: [{ zone: ZEN }],
    addresses: async () => hosts,
    onListed: async (l) => void listed.push(l),
    onDelisted: async (d) => void delisted.push(d),
    clock: () => clock.now(),
    log: silentLogger(),
    sleep: (ms, signal) => clock.sleep(ms, signal),
    lookup: dns.lookup,
    cacheMs: 0,
    ...over,
  });
  return { clock, dns, listed, delisted, monitor, setHosts: (h: typeof HOSTS) => (hosts = h) };
}

describe('DnsblMonitor: what it reports', () => {
  it('reports a new listing once, with its lists, category and reason, and its end once', async () => {
    const { clock, dns, listed, delisted, monitor } = setup();
    dns.list(ZEN, '203.0.113.2', ['127.0.0.4', '127.0.0.2'], ['https://check.spamhaus.org/sbl/query/SBL1']);
    const first = await monitor.checkOnce();
    expect(first).toMatchObject({ pairs: 3, lookups: 3, cached: 0, skipped: 0, failures: [] });
    expect(listed).toEqual([
      {
        hostId: 'web-1',
        ip: '203.0.113.2',
        zone: ZEN,
        codes: ['127.0.0.2', '127.0.0.4'],
        newCodes: ['127.0.0.2', '127.0.0.4'],
        lists: ['SBL', 'XBL'],
        category: 'spam',
        categories: ['spam', 'botnet'],
        reasons: ['https://check.spamhaus.org/sbl/query/SBL1'],
        checkedAt: clock.now(),
        firstAnswer: true,
      },
    ]);
    await monitor.checkOnce();
    expect(listed).toHaveLength(1);
    clock.advance(60_000);
    dns.clear(ZEN, '203.0.113.2');
    const gone = await monitor.checkOnce();
    expect(gone.delisted).toEqual(delisted);
    expect(delisted).toEqual([{ hostId: 'web-1', ip: '203.0.113.2', zone: ZEN, codes: ['127.0.0.2', '127.0.0.4'], lists: ['SBL', 'XBL'], listedSince: listed[0]!.checkedAt, checkedAt: clock.now() }]);
    await monitor.checkOnce();
    expect(delisted).toHaveLength(1);
    // Listed again later: a new listing, no longer the first answer of this process.
    dns.list(ZEN, '203.0.113.2', ['127.0.0.2']);
    await monitor.checkOnce();
    expect(listed.map((l) => [l.newCodes, l.firstAnswer])).toEqual([[['127.0.0.2', '127.0.0.4'], true], [['127.0.0.2'], false]]);
  });

  it('never reports a PBL listing, nor asks its reason', async () => {
    const { dns, listed, monitor } = setup();
    dns.list(ZEN, '198.51.100.7', ['127.0.0.10'], ['https://check.spamhaus.org/pbl']);
    await monitor.checkOnce();
    expect(listed).toEqual([]);
    expect(dns.calls.find((c) => c.ip === '198.51.100.7')!.opts.wantReason!(['127.0.0.10'])).toBe(false);
  });

  it('reports a code new to a listed address (SBL, then XBL too), and keeps quiet when one goes', async () => {
    const { dns, listed, delisted, monitor } = setup();
    dns.list(ZEN, '2001:db8::2', ['127.0.0.2']);
    await monitor.checkOnce();
    dns.list(ZEN, '2001:db8::2', ['127.0.0.2', '127.0.0.4']);
    await monitor.checkOnce();
    dns.list(ZEN, '2001:db8::2', ['127.0.0.4', '127.0.0.10']);
    await monitor.checkOnce();
    expect(listed.map((l) => l.newCodes)).toEqual([['127.0.0.2'], ['127.0.0.4']]);
    expect(delisted).toEqual([]);
    // SBL back after it went: new again. Then only PBL left: the listing ended.
    dns.list(ZEN, '2001:db8::2', ['127.0.0.2', '127.0.0.4']);
    await monitor.checkOnce();
    dns.list(ZEN, '2001:db8::2', ['127.0.0.10']);
    await monitor.checkOnce();
    expect(listed.map((l) => l.newCodes)).toEqual([['127.0.0.2'], ['127.0.0.4'], ['127.0.0.2']]);
    expect(delisted.map((d) => d.codes)).toEqual([['127.0.0.2', '127.0.0.4']]);
  });

  it('changes nothing when a lookup fails: no listing, no delisting', async () => {
    const { dns, listed, delisted, monitor } = setup();
    dns.list(ZEN, '203.0.113.2', ['127.0.0.2']);
    await monitor.checkOnce();
    for (const ip of HOSTS.map((h) => h.ip)) dns.fail(ZEN, ip, new CordonError('transient', 'SERVFAIL'));
    const failed = await monitor.checkOnce();
    expect(failed.failures).toHaveLength(3);
    expect(failed.failures[0]).toMatchObject({ stage: 'lookup', kind: 'transient', zone: ZEN });
    expect(delisted).toEqual([]);
    dns.list(ZEN, '203.0.113.2', ['127.0.0.2']);
    await monitor.checkOnce();
    expect(listed).toHaveLength(1);
    expect(delisted).toEqual([]);
  });

  it('offers a listing again when onListed threw, and a delisting when onDelisted threw', async () => {
    let refuse = true;
    const seen: Listing[] = [];
    const ended: Delisting[] = [];
    const { dns, monitor } = setup({
      onListed: async (l) => {
        if (refuse) throw new CordonError('transient', 'store down');
        seen.push(l);
      },
      onDelisted: async (d) => {
        if (refuse) throw new CordonError('transient', 'store down');
        ended.push(d);
      },
    });
    dns.list(ZEN, '203.0.113.2', ['127.0.0.2']);
    const s = await monitor.checkOnce();
    expect(s.failures).toEqual([expect.objectContaining({ stage: 'report', kind: 'transient', ip: '203.0.113.2' })]);
    refuse = false;
    await monitor.checkOnce();
    // Still the first answer this process settled: it may have been reported before a restart.
    expect(seen.map((l) => l.firstAnswer)).toEqual([true]);
    dns.clear(ZEN, '203.0.113.2');
    refuse = true;
    await monitor.checkOnce();
    refuse = false;
    await monitor.checkOnce();
    expect(ended).toHaveLength(1);
  });

  it('forgets an address that left the inventory, without a delisting', async () => {
    const { dns, listed, delisted, monitor, setHosts } = setup();
    dns.list(ZEN, '203.0.113.2', ['127.0.0.2']);
    await monitor.checkOnce();
    setHosts(HOSTS.slice(1));
    await monitor.checkOnce();
    setHosts(HOSTS);
    await monitor.checkOnce();
    expect(delisted).toEqual([]);
    expect(listed.map((l) => l.firstAnswer)).toEqual([true, true]);
  });

  it('skips an address that is not one, and keys IPv6 by its canonical text', async () => {
    const { dns, listed, monitor, setHosts } = setup();
    setHosts([
      { hostId: 'bad', ip: 'mail.example' },
      { hostId: 'v6', ip: '2001:DB8:0::2' },
      { hostId: 'v6-again', ip: '2001:db8::2' },
    ]);
    dns.list(ZEN, '2001:db8::2', ['127.0.0.3']);
    const s = await monitor.checkOnce();
    expect(s.pairs).toBe(1);
    expect(listed).toEqual([expect.objectContaining({ hostId: 'v6', ip: '2001:db8::2', lists: ['SBL CSS'] })]);
  });

  it('rejects when the address list cannot be read, and runs the next check anyway', async () => {
    let broken = true;
    const { monitor } = setup({
      addresses: async () => {
        if (broken) throw new CordonError('transient', 'inventory unavailable');
        return HOSTS;
      },
    });
    await expect(monitor.checkOnce()).rejects.toThrow(/inventory unavailable/);
    broken = false;
    await expect(monitor.checkOnce()).resolves.toMatchObject({ pairs: 3 });
  });
});

describe('DnsblMonitor: cache, bounds and schedule', () => {
  it('answers a re-check within cacheMs from the cache, without a query', async () => {
    const { clock, dns, listed, monitor } = setup({ cacheMs: 600_000 });
    dns.list(ZEN, '203.0.113.2', ['127.0.0.2']);
    await monitor.checkOnce();
    expect(dns.calls).toHaveLength(3);
    clock.advance(599_999);
    dns.clear(ZEN, '203.0.113.2');
    expect(await monitor.checkOnce()).toMatchObject({ lookups: 0, cached: 3, delisted: [] });
    expect(dns.calls).toHaveLength(3);
    clock.advance(1);
    expect(await monitor.checkOnce()).toMatchObject({ lookups: 3, cached: 0 });
    expect(listed).toHaveLength(1);
  });

  it('does not cache a failed lookup', async () => {
    const { dns, monitor } = setup({ cacheMs: 600_000 });
    dns.fail(ZEN, '203.0.113.2', new CordonError('transient', 'timeout'));
    await monitor.checkOnce();
    expect(await monitor.checkOnce()).toMatchObject({ lookups: 1, cached: 2 });
  });

  it('keeps at most `concurrency` lookups in flight', async () => {
    const hosts = Array.from({ length: 20 }, (_, i) => ({ hostId: `h${i}`, ip: `192.0.2.${i + 1}` }));
    const { dns, monitor } = setup({ concurrency: 3, zones: [{ zone: ZEN }, { zone: 'bl.example' }], addresses: async () => hosts });
    let open!: () => void;
    dns.gate = new Promise((r) => (open = r));
    const check = monitor.checkOnce();
    await settle();
    expect(dns.inFlight).toBe(3);
    open();
    expect(await check).toMatchObject({ pairs: 40, lookups: 40 });
    expect(dns.maxInFlight).toBe(3);
  });

  it('spreads a scheduled check over spreadMs, and checks again every intervalMs', async () => {
    const hosts = Array.from({ length: 4 }, (_, i) => ({ hostId: `h${i}`, ip: `192.0.2.${i + 1}` }));
    const { clock, dns, monitor } = setup({ intervalMs: 86_400_000, spreadMs: 3_600_000, addresses: async () => hosts });
    monitor.start();
    await settle();
    expect(dns.calls).toHaveLength(1); // the first at once, then one every 15 min
    for (const n of [2, 3, 4]) {
      clock.advance(15 * 60_000 - 1);
      await settle();
      expect(dns.calls).toHaveLength(n - 1);
      clock.advance(1);
      await settle();
      expect(dns.calls).toHaveLength(n);
    }
    clock.advance(86_400_000 - 45 * 60_000 - 1);
    await settle();
    expect(dns.calls).toHaveLength(4);
    clock.advance(1);
    await settle();
    expect(dns.calls).toHaveLength(5);
    await monitor.stop();
  });

  it('stop() ends the schedule, starts no more lookups, and waits for those in flight', async () => {
    const hosts = Array.from({ length: 10 }, (_, i) => ({ hostId: `h${i}`, ip: `192.0.2.${i + 1}` }));
    const { clock, dns, monitor } = setup({ spreadMs: 600_000, concurrency: 2, addresses: async () => hosts });
    let open!: () => void;
    dns.gate = new Promise((r) => (open = r));
    monitor.start();
    await settle();
    expect(dns.inFlight).toBe(1);
    let stopped = false;
    const stopping = monitor.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    open();
    await stopping;
    clock.advance(86_400_000 * 2);
    await settle();
    expect(dns.calls).toHaveLength(1);
    expect(clock.sleeping).toBe(0);
  });

  it('runs two checks asked at once one after the other, so each compares with the last', async () => {
    const { dns, listed, monitor } = setup();
    dns.list(ZEN, '203.0.113.2', ['127.0.0.2']);
    await Promise.all([monitor.checkOnce(), monitor.checkOnce()]);
    expect(listed).toHaveLength(1);
  });
});
