import { describe, expect, it } from 'vitest';
import { LinkBackend } from '../../agent/backends/linkBackend.js';
import { isLinkListing, sameTurnReads } from '../../agent/backends/sameTurnReads.js';
import { TcBackend } from '../../agent/backends/tcBackend.js';
import type { EnforcementPlan } from '../../agent/enforce/plan.js';
import { RecordingRunner } from '../../proto/runtime/CommandRunner.js';
import { CordonError } from '../../proto/runtime/CordonError.js';

// Outputs captured from iproute2 6.1 on the CI kernel, in a namespace laid out
// like NetLab's host (lo 1, pub0 2, mgmt0 3), before and after a 10 Mbit/s apply.
const LINKS_FRESH = `[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00"},{"ifindex":2,"link_index":2,"ifname":"pub0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"mtu":1500,"qdisc":"noqueue","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"a2:95:59:20:4b:2c","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0},{"ifindex":3,"link_index":2,"ifname":"mgmt0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"mtu":1500,"qdisc":"noqueue","operstate":"LOWERLAYERDOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"7a:0b:14:d3:69:76","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":1}]`;
const QDISC_PUB0_FRESH = `[{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{}}]`;
const LINKS_APPLIED = `[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00"},{"ifindex":2,"link_index":2,"ifname":"pub0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"mtu":1500,"qdisc":"noqueue","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"a2:95:59:20:4b:2c","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0},{"ifindex":3,"link_index":2,"ifname":"mgmt0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"mtu":1500,"qdisc":"noqueue","operstate":"LOWERLAYERDOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"7a:0b:14:d3:69:76","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":1},{"ifindex":4,"ifname":"cdne2","flags":["BROADCAST","NOARP","UP","LOWER_UP"],"mtu":1500,"qdisc":"tbf","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":32,"link_type":"ether","address":"52:51:8c:27:c3:c2","broadcast":"ff:ff:ff:ff:ff:ff","ifalias":"cordon-tc clsact=cordon"},{"ifindex":5,"ifname":"cdni2","flags":["BROADCAST","NOARP","UP","LOWER_UP"],"mtu":1500,"qdisc":"tbf","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":32,"link_type":"ether","address":"be:fe:47:ad:5f:6f","broadcast":"ff:ff:ff:ff:ff:ff","ifalias":"cordon-tc"}]`;
const QDISC_PUB0_CLSACT = `[{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{}},{"kind":"clsact","handle":"ffff:","parent":"ffff:fff1","options":{}}]`;
const QDISC_PUB0_HTB_INGRESS = `[{"kind":"htb","handle":"7:","root":true,"refcnt":3,"options":{"r2q":10,"default":"0x1","direct_packets_stat":0,"direct_qlen":1000}},{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1","options":{}}]`;
// u32 on clsact lists the other direction's keys too (same dump in both directions).
const FILTERS_OURS = `[{"protocol":"all","pref":49374,"kind":"u32","chain":0},{"protocol":"all","pref":49374,"kind":"u32","chain":0,"options":{"fh":"801:","ht_divisor":1}},{"protocol":"all","pref":49374,"kind":"u32","chain":0,"options":{"fh":"801::800","order":2048,"key_ht":"801","bkt":"0","not_in_hw":true,"match":{"value":"0","mask":"0","offmask":"","off":0},"actions":[{"order":1,"kind":"mirred","mirred_action":"redirect","direction":"egress","to_dev":"cdni2","control_action":{"type":"stolen"},"index":2,"ref":1,"bind":1}]}},{"protocol":"all","pref":49374,"kind":"u32","chain":0,"options":{"fh":"800:","ht_divisor":1}},{"protocol":"all","pref":49374,"kind":"u32","chain":0,"options":{"fh":"800::800","order":2048,"key_ht":"800","bkt":"0","not_in_hw":true,"match":{"value":"0","mask":"0","offmask":"","off":0},"actions":[{"order":1,"kind":"mirred","mirred_action":"redirect","direction":"egress","to_dev":"cdne2","control_action":{"type":"stolen"},"index":1,"ref":1,"bind":1}]}}]`;
// A customer's u32 filter at pref 10 on egress beside Cordon's.
const FILTERS_FOREIGN_EGRESS = `[{"protocol":"ip","pref":10,"kind":"u32","chain":0},{"protocol":"ip","pref":10,"kind":"u32","chain":0,"options":{"fh":"802:","ht_divisor":1}},{"protocol":"ip","pref":10,"kind":"u32","chain":0,"options":{"fh":"802::800","order":2048,"key_ht":"802","bkt":"0","flowid":"7:1","not_in_hw":true,"match":{"value":"270f","mask":"ffff","offmask":"","off":20}}},{"protocol":"all","pref":49374,"kind":"u32","chain":0},{"protocol":"all","pref":49374,"kind":"u32","chain":0,"options":{"fh":"801:","ht_divisor":1}},{"protocol":"all","pref":49374,"kind":"u32","chain":0,"options":{"fh":"801::800","order":2048,"key_ht":"801","bkt":"0","not_in_hw":true,"match":{"value":"0","mask":"0","offmask":"","off":0},"actions":[{"order":1,"kind":"mirred","mirred_action":"redirect","direction":"egress","to_dev":"cdni2","control_action":{"type":"stolen"},"index":2,"ref":1,"bind":1}]}},{"protocol":"all","pref":49374,"kind":"u32","chain":0,"options":{"fh":"800:","ht_divisor":1}},{"protocol":"all","pref":49374,"kind":"u32","chain":0,"options":{"fh":"800::800","order":2048,"key_ht":"800","bkt":"0","not_in_hw":true,"match":{"value":"0","mask":"0","offmask":"","off":0},"actions":[{"order":1,"kind":"mirred","mirred_action":"redirect","direction":"egress","to_dev":"cdne2","control_action":{"type":"stolen"},"index":1,"ref":1,"bind":1}]}}]`;
const QDISC_IFB_10M = `[{"kind":"tbf","handle":"1:","root":true,"refcnt":2,"options":{"rate":1250000,"burst":65535,"lat":100000}}]`;
const QDISC_IFB_100M = `[{"kind":"tbf","handle":"1:","root":true,"refcnt":2,"options":{"rate":12500000,"burst":65525,"lat":100000}}]`;

const FRESH: Record<string, string> = {
  'ip -j link show': LINKS_FRESH,
  'tc -j qdisc show dev pub0': QDISC_PUB0_FRESH,
};
const APPLIED: Record<string, string> = {
  'ip -j link show': LINKS_APPLIED,
  'tc -j qdisc show dev pub0': QDISC_PUB0_CLSACT,
  'tc -j filter show dev pub0 egress': FILTERS_OURS,
  'tc -j filter show dev pub0 ingress': FILTERS_OURS,
  'tc -j qdisc show dev cdne2': QDISC_IFB_10M,
  'tc -j qdisc show dev cdni2': QDISC_IFB_10M,
};

const plan: EnforcementPlan = {
  publicInterfaces: ['pub0'],
  managementNetworks: [],
  smtp: undefined,
  isolate: false,
  throttleBps: 10_000_000,
  linksDown: [],
};

/** A host whose read commands answer from `state`; an unexpected read fails loudly. */
function host(state: Record<string, string>): RecordingRunner {
  return new RecordingRunner((command, args) => {
    const line = [command, ...args].join(' ');
    if (line in state) return { stdout: state[line] };
    return args.includes('-j') ? { code: 1, stderr: `unexpected read: ${line}` } : {};
  });
}

/** Every command run, a batch (`tc -batch -`) read as its lines, quotes dropped. */
const lines = (r: RecordingRunner) =>
  r.calls.flatMap((c) =>
    c.args[0] === '-batch'
      ? (c.input ?? '').split('\n').filter(Boolean).map((l) => `${c.command} ${l.replace(/"/g, '')}`)
      : [[c.command, ...c.args].join(' ')],
  );
/** The processes started. */
const starts = (r: RecordingRunner) => r.calls.map((c) => [c.command, ...c.args].join(' '));
const changes = (r: RecordingRunner) => lines(r).filter((l) => !l.includes(' -j '));

describe('TcBackend', () => {
  it('first apply: ifbs with their bucket, then clsact, then the redirects', async () => {
    const r = host(FRESH);
    await new TcBackend(r).apply(plan);
    expect(lines(r)).toEqual([
      'ip -j link show',
      'tc -j qdisc show dev pub0',
      'ip link add cdne2 type ifb',
      'ip link set dev cdne2 alias cordon-tc clsact=cordon up',
      'ip link add cdni2 type ifb',
      'ip link set dev cdni2 alias cordon-tc up',
      'tc qdisc replace dev cdne2 root handle 1: tbf rate 10000000bit burst 65536 limit 190536',
      'tc qdisc replace dev cdni2 root handle 1: tbf rate 10000000bit burst 65536 limit 190536',
      'tc qdisc add dev pub0 clsact',
      'tc filter add dev pub0 egress pref 49374 protocol all u32 match u32 0 0 action mirred egress redirect dev cdne2',
      'tc filter add dev pub0 ingress pref 49374 protocol all u32 match u32 0 0 action mirred egress redirect dev cdni2',
    ]);
  });

  it('makes its changes in two processes, links then tc, each batch a file ip and tc read whole', async () => {
    const r = host(FRESH);
    await new TcBackend(r).apply(plan);
    expect(starts(r)).toEqual(['ip -j link show', 'tc -j qdisc show dev pub0', 'ip -batch -', 'tc -batch -']);
    // The alias holds a blank: quoted, so ip takes it as one word.
    expect(r.calls[2]!.input).toContain('link set dev cdne2 alias "cordon-tc clsact=cordon" up\n');
  });

  it('runs commands one by one when a word could not be read back from a batch line', async () => {
    const r = new RecordingRunner((command, args) => {
      const line = [command, ...args].join(' ');
      if (line === 'ip -j link show') return { stdout: LINKS_FRESH.replace(/"pub0"/g, '"pub\\"0"') };
      if (line.startsWith('tc -j qdisc show dev')) return { stdout: QDISC_PUB0_FRESH };
      return args.includes('-j') ? { code: 1, stderr: `unexpected read: ${line}` } : {};
    });
    await new TcBackend(r).apply({ ...plan, publicInterfaces: ['pub"0'] });
    expect(starts(r).filter((l) => l.includes('-batch'))).toEqual(['ip -batch -']);
    expect(starts(r)).toContain('tc filter add dev pub"0 egress pref 49374 protocol all u32 match u32 0 0 action mirred egress redirect dev cdne2');
  });

  it('a second apply of the same plan only reads', async () => {
    const r = host(APPLIED);
    await new TcBackend(r).apply(plan);
    expect(changes(r)).toEqual([]);
    expect(lines(r)).toHaveLength(6);
  });

  it('a new rate changes the two buckets in place and nothing else', async () => {
    const r = host(APPLIED);
    await new TcBackend(r).apply({ ...plan, throttleBps: 100_000_000 });
    expect(changes(r)).toEqual([
      'tc qdisc change dev cdne2 root handle 1: tbf rate 100000000bit burst 65536 limit 1315536',
      'tc qdisc change dev cdni2 root handle 1: tbf rate 100000000bit burst 65536 limit 1315536',
    ]);
  });

  it('sizes burst and queue from the rate at the top of the range', async () => {
    const r = host(FRESH);
    await new TcBackend(r).apply({ ...plan, throttleBps: 100_000_000_000 });
    expect(changes(r)).toContain('tc qdisc replace dev cdne2 root handle 1: tbf rate 100000000000bit burst 12500000 limit 1262500000');
  });

  it('release removes the redirects before the ifbs, and the clsact it created', async () => {
    const r = host(APPLIED);
    await new TcBackend(r).release(plan);
    expect(changes(r)).toEqual([
      'tc filter del dev pub0 egress pref 49374',
      'tc filter del dev pub0 ingress pref 49374',
      'tc qdisc del dev pub0 clsact',
      'ip link del cdne2',
      'ip link del cdni2',
    ]);
  });

  it('release keeps a clsact that holds someone else\'s filter', async () => {
    const r = host({ ...APPLIED, 'tc -j filter show dev pub0 egress': FILTERS_FOREIGN_EGRESS });
    await new TcBackend(r).release(plan);
    expect(changes(r)).toEqual(['tc filter del dev pub0 egress pref 49374', 'tc filter del dev pub0 ingress pref 49374', 'ip link del cdne2', 'ip link del cdni2']);
  });

  it('marks a clsact that was there before as not its own, and keeps it on release', async () => {
    const r = host({ ...FRESH, 'tc -j qdisc show dev pub0': QDISC_PUB0_CLSACT, 'tc -j filter show dev pub0 egress': '[]', 'tc -j filter show dev pub0 ingress': '[]' });
    await new TcBackend(r).apply(plan);
    expect(changes(r)).toContain('ip link set dev cdne2 alias cordon-tc clsact=preexisting up');
    expect(changes(r)).not.toContain('tc qdisc add dev pub0 clsact');

    const theirs = LINKS_APPLIED.replace('cordon-tc clsact=cordon', 'cordon-tc clsact=preexisting');
    const rel = host({ ...APPLIED, 'ip -j link show': theirs });
    await new TcBackend(rel).release(plan);
    expect(changes(rel)).not.toContain('tc qdisc del dev pub0 clsact');
  });

  it('apply without a throttle is a release', async () => {
    const r = host(APPLIED);
    await new TcBackend(r).apply({ ...plan, throttleBps: undefined });
    expect(changes(r)).toEqual(['tc filter del dev pub0 egress pref 49374', 'tc filter del dev pub0 ingress pref 49374', 'tc qdisc del dev pub0 clsact', 'ip link del cdne2', 'ip link del cdni2']);
  });

  it('removes its objects from an interface that left the plan', async () => {
    const r = host(APPLIED);
    await new TcBackend(r).apply({ ...plan, publicInterfaces: [] });
    expect(changes(r)).toEqual(['tc filter del dev pub0 egress pref 49374', 'tc filter del dev pub0 ingress pref 49374', 'tc qdisc del dev pub0 clsact', 'ip link del cdne2', 'ip link del cdni2']);
  });

  it('observes the rate, and the loss of the clsact', async () => {
    expect(await new TcBackend(host(APPLIED)).observe(plan)).toEqual({ interfaces: [{ name: 'pub0', rateBps: 10_000_000, egress: true, ingress: true }] });
    const drifted = host({ ...APPLIED, 'tc -j qdisc show dev pub0': QDISC_PUB0_FRESH });
    expect(await new TcBackend(drifted).observe(plan)).toEqual({ interfaces: [{ name: 'pub0', rateBps: undefined, egress: false, ingress: false }] });
    const r = host({ ...APPLIED, 'tc -j qdisc show dev pub0': QDISC_PUB0_FRESH });
    await new TcBackend(r).apply(plan);
    expect(changes(r)).toEqual([
      'tc qdisc add dev pub0 clsact',
      'tc filter add dev pub0 egress pref 49374 protocol all u32 match u32 0 0 action mirred egress redirect dev cdne2',
      'tc filter add dev pub0 ingress pref 49374 protocol all u32 match u32 0 0 action mirred egress redirect dev cdni2',
    ]);
  });

  it('observes an interface without its ifbs from the link listing alone, as every drift check of an unthrottled host does', async () => {
    const r = host({ ...FRESH, 'tc -j qdisc show dev pub0': QDISC_PUB0_CLSACT });
    expect(await new TcBackend(r).observe(plan)).toEqual({ interfaces: [{ name: 'pub0', rateBps: undefined, egress: false, ingress: false }] });
    expect(starts(r)).toEqual(['ip -j link show']);
  });

  it('shares one link listing with the link backend when the engine observes both at once', async () => {
    const r = host(FRESH);
    const reads = sameTurnReads(r, isLinkListing);
    const [tc, link] = await Promise.all([new TcBackend(reads).observe(plan), new LinkBackend(reads).observe(plan)]);
    expect(tc.interfaces[0]).toMatchObject({ name: 'pub0', egress: false });
    expect(link.links).toEqual([{ name: 'pub0', exists: true, up: true }]);
    expect(starts(r)).toEqual(['ip -j link show']);
  });

  it('reports no rate when the two directions disagree', async () => {
    const r = host({ ...APPLIED, 'tc -j qdisc show dev cdni2': QDISC_IFB_100M });
    expect(await new TcBackend(r).observe(plan)).toEqual({ interfaces: [{ name: 'pub0', rateBps: undefined, egress: true, ingress: true }] });
  });

  it.each([0, -1, 1.5, Number.NaN, 7_999, 100_000_000_001])('refuses rate %s before running anything', async (rate) => {
    const r = host(FRESH);
    const err = await new TcBackend(r).apply({ ...plan, throttleBps: rate }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CordonError);
    expect(err).toMatchObject({ kind: 'invalid', field: 'throttle.rateBps' });
    expect(r.calls).toEqual([]);
  });

  it('refuses a missing interface before changing any other', async () => {
    const r = host(FRESH);
    const err = await new TcBackend(r).apply({ ...plan, publicInterfaces: ['pub0', 'pub9'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'invalid' });
    expect((err as Error).message).toContain('pub9');
    expect(changes(r)).toEqual([]);
  });

  it('refuses an interface whose ingress qdisc excludes clsact', async () => {
    const r = host({ ...FRESH, 'tc -j qdisc show dev pub0': QDISC_PUB0_HTB_INGRESS });
    const err = await new TcBackend(r).apply(plan).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'conflict' });
    expect(changes(r)).toEqual([]);
  });
});
