import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsblQueryName } from '../../controller/monitoring/dnsbl/dnsblQueryName.js';
import { DnsblMonitor } from '../../controller/monitoring/dnsbl/DnsblMonitor.js';
import type { Delisting, Listing } from '../../controller/monitoring/dnsbl/Listing.js';
import { lookupDnsbl } from '../../controller/monitoring/dnsbl/lookupDnsbl.js';
import { ZEN_RETURN_CODES } from '../../controller/monitoring/dnsbl/zenReturnCodes.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { dnsServerGate, startDnsServer, type DnsRecords, type DnsServer } from '../helpers/dnsServer.js';

const gate = dnsServerGate();
if (!gate.ok) process.stderr.write(`SKIP test/integration/dnsbl.test.ts: ${gate.reason}\n`);

const ZONE = 'zen.test';
const HOSTS = [
  { hostId: 'mail-1', ip: '203.0.113.2' }, // SBL and XBL, two reasons
  { hostId: 'mail-6', ip: '2001:db8::25' }, // SBL CSS, over IPv6
  { hostId: 'dyn-1', ip: '203.0.113.10' }, // PBL only: never a complaint
  { hostId: 'web-1', ip: '203.0.113.20' }, // the DNSBL's "public resolver" error code
  { hostId: 'web-2', ip: '203.0.113.30' }, // an answer outside 127/8
  { hostId: 'web-3', ip: '203.0.113.99' }, // not listed (NXDOMAIN)
];
const name = (ip: string) => dnsblQueryName(ip, ZONE);

/** The zone as a DNSBL would serve it, optionally without the IPv6 listing. */
function zone(withIPv6: boolean): DnsRecords {
  const a: Record<string, string[]> = {
    [name('203.0.113.2')]: ['127.0.0.2', '127.0.0.4'],
    [name('203.0.113.10')]: ['127.0.0.10'],
    [name('203.0.113.20')]: ['127.255.255.254'],
    [name('203.0.113.30')]: ['192.0.2.1'],
  };
  const txt: Record<string, string[]> = {
    [name('203.0.113.2')]: ['https://check.spamhaus.org/sbl/query/SBL1', 'https://check.spamhaus.org/xbl/query/XBL2'],
    [name('203.0.113.10')]: ['https://check.spamhaus.org/pbl/query/PBL3'],
    [name('203.0.113.20')]: ['Error: open resolver'],
  };
  if (withIPv6) {
    a[name('2001:db8::25')] = ['127.0.0.3'];
    txt[name('2001:db8::25')] = ['https://check.spamhaus.org/css/query/CSS4'];
  }
  return { a, txt, authoritative: [ZONE] };
}

/**
 * The DNSBL monitor against a real DNS server (dnsmasq on the loopback)
 * serving a test zone with Spamhaus ZEN's codes: listings over IPv4 and
 * IPv6 reported once with their reasons, PBL and error codes never, a
 * removed record as one delisting, a dead server as nothing at all.
 */
describe.skipIf(!gate.ok)('DNSBL monitor with a real DNS server', () => {
  let dns: DnsServer | undefined;
  let silent: Socket | undefined;
  const listed: Listing[] = [];
  const delisted: Delisting[] = [];
  let monitor: DnsblMonitor;

  beforeAll(async () => {
    dns = await startDnsServer({}, zone(true));
    monitor = new DnsblMonitor({
      zones: [{ zone: ZONE, codes: { ...ZEN_RETURN_CODES } }],
      addresses: async () => HOSTS,
      onListed: async (l) => void listed.push(l),
      onDelisted: async (d) => void delisted.push(d),
      clock: () => new Date(),
      log: silentLogger(),
      resolverServers: [dns.address],
      timeoutMs: 2_000,
      concurrency: 3,
      cacheMs: 0,
    });
  });
  afterAll(async () => {
    await monitor?.stop();
    await dns?.stop();
    silent?.close();
  });

  it('answers A and TXT for IPv4 and IPv6 listings, NXDOMAIN for the rest', async () => {
    const opts = { servers: [dns!.address], timeoutMs: 2_000 };
    expect(await lookupDnsbl('203.0.113.2', ZONE, opts)).toEqual({
      listed: true,
      codes: ['127.0.0.2', '127.0.0.4'],
      reasons: expect.arrayContaining(['https://check.spamhaus.org/sbl/query/SBL1', 'https://check.spamhaus.org/xbl/query/XBL2']),
    });
    expect(await lookupDnsbl('2001:DB8:0::25', ZONE, opts)).toEqual({ listed: true, codes: ['127.0.0.3'], reasons: ['https://check.spamhaus.org/css/query/CSS4'] });
    expect(await lookupDnsbl('203.0.113.99', ZONE, opts)).toEqual({ listed: false });
    expect(await lookupDnsbl('2001:db8::26', ZONE, opts)).toEqual({ listed: false });
    // No TXT query when the codes are not worth a reason.
    expect(await lookupDnsbl('203.0.113.10', ZONE, { ...opts, wantReason: () => false })).toEqual({ listed: true, codes: ['127.0.0.10'], reasons: [] });
  });

  it('fails the check on a DNSBL error code or a non-127/8 answer, never reading them as listings', async () => {
    const opts = { servers: [dns!.address], timeoutMs: 2_000 };
    await expect(lookupDnsbl('203.0.113.20', ZONE, opts)).rejects.toMatchObject({ kind: 'permission', message: expect.stringMatching(/127\.255\.255\.254.*not a listing/) });
    await expect(lookupDnsbl('203.0.113.30', ZONE, opts)).rejects.toMatchObject({ kind: 'invalid', message: expect.stringMatching(/192\.0\.2\.1, outside 127\.0\.0\.0\/8/) });
    // A name the server is not authoritative for: REFUSED, a failure, not "not listed".
    await expect(lookupDnsbl('203.0.113.2', 'other.test', opts)).rejects.toMatchObject({ kind: 'transient', message: expect.stringMatching(/EREFUSED/) });
  });

  it('gives up within the timeout when the server never answers', async () => {
    silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent!.bind(0, '127.0.0.1', resolve));
    const started = Date.now();
    const err = await lookupDnsbl('203.0.113.2', ZONE, { servers: [`127.0.0.1:${silent.address().port}`], timeoutMs: 400 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CordonError);
    expect(err).toMatchObject({ kind: 'transient', message: expect.stringMatching(/no answer within 400 ms/) });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('reports each new listing once, with its reason; not PBL, not the error code', async () => {
    const first = await monitor.checkOnce();
    expect(first).toMatchObject({ pairs: 6, lookups: 6 });
    expect(listed.map((l) => [l.hostId, l.ip, l.lists, l.category])).toEqual(
      expect.arrayContaining([
        ['mail-1', '203.0.113.2', ['SBL', 'XBL'], 'spam'],
        ['mail-6', '2001:db8::25', ['SBL CSS'], 'spam'],
      ]),
    );
    expect(listed).toHaveLength(2);
    const v4 = listed.find((l) => l.hostId === 'mail-1')!;
    expect(v4.reasons.sort()).toEqual(['https://check.spamhaus.org/sbl/query/SBL1', 'https://check.spamhaus.org/xbl/query/XBL2']);
    expect(v4).toMatchObject({ zone: ZONE, codes: ['127.0.0.2', '127.0.0.4'], categories: ['spam', 'botnet'], firstAnswer: true });
    expect(listed.find((l) => l.hostId === 'mail-6')!.reasons).toEqual(['https://check.spamhaus.org/css/query/CSS4']);
    expect(first.failures.map((f) => [f.hostId, f.stage, f.kind]).sort()).toEqual([
      ['web-1', 'lookup', 'permission'],
      ['web-2', 'lookup', 'invalid'],
    ]);

    const second = await monitor.checkOnce();
    expect(second).toMatchObject({ lookups: 6, listed: [], delisted: [] });
    expect(listed).toHaveLength(2);
  });

  it('reports nothing while the DNS server is dead: no listing, no delisting', async () => {
    const { port } = dns!;
    await dns!.stop();
    const dead = await monitor.checkOnce();
    expect(dead).toMatchObject({ lookups: 6, listed: [], delisted: [] });
    expect(dead.failures).toHaveLength(6);
    expect(dead.failures.every((f) => f.stage === 'lookup' && f.kind === 'transient')).toBe(true);
    expect(delisted).toEqual([]);
    // Back on the same port, as a restarted server would be, without the IPv6 listing.
    dns = await startDnsServer({}, { ...zone(false), port });
  });

  it('reports a removed record as one delisting', async () => {
    const after = await monitor.checkOnce();
    expect(after.delisted).toHaveLength(1);
    expect(delisted).toEqual([expect.objectContaining({ hostId: 'mail-6', ip: '2001:db8::25', zone: ZONE, codes: ['127.0.0.3'], lists: ['SBL CSS'] })]);
    expect(after.listed).toEqual([]);
    await monitor.checkOnce();
    expect(delisted).toHaveLength(1);
    expect(listed).toHaveLength(2);
  });
});
