import { describe, expect, it } from 'vitest';
import { Watcher, activePolicy } from '../../agent/detect/Watcher.js';
import { readWatchSets } from '../../agent/detect/readWatchSets.js';
import { sentThrough } from '../../agent/detect/interfaceCounters.js';
import { renderWatchFlush, renderWatchTransaction } from '../../agent/detect/watchRuleset.js';
import type { DetectionPolicy, Observation } from '../../proto/gen/cordon/v1/agent.js';
import { parseCidr } from '../../proto/runtime/cidr.js';
import { RecordingRunner } from '../../proto/runtime/CommandRunner.js';
import { silentLogger } from '../../proto/runtime/logger.js';

const policy: DetectionPolicy = { enabled: true, windowSeconds: 60, smtpPorts: [25, 465, 587], smtpNewConnections: 5, fanoutPorts: [22, 3389], fanoutDestinations: 3, floodPacketsPerSecond: 0, floodMaxAverageBytes: 0 };
const plan = { publicInterfaces: ['pub0'], managementNetworks: [parseCidr('10.255.0.0/16'), parseCidr('fd00:ff::/64')], smtpPorts: [25, 465, 587], fanoutPorts: [22, 3389], flood: true };

/** nft -j list table output as nft 1.0.6 prints it (the shape checked against the real program in test/system/watch.test.ts). */
function listing(smtp: [string, number][], fanout: [string, number][], flood: [string, number, number][] = []): string {
  const set = (name: string, elems: [string, number][]) => ({ set: { family: 'inet', name, table: 'cordon_watch', type: 'ipv4_addr', handle: 7, size: 65535, flags: ['dynamic'], elem: elems.map(([val, packets]) => ({ elem: { val, counter: { packets, bytes: packets * 60 } } })) } });
  return JSON.stringify({
    nftables: [{ metainfo: { version: '1.0.6', json_schema_version: 1 } }, { table: { family: 'inet', name: 'cordon_watch', handle: 1 } }, set('smtp_v4', smtp), set('smtp_v6', []), set('fanout_v4', fanout), { set: { family: 'inet', name: 'flood_v4', table: 'cordon_watch', type: 'ipv4_addr', handle: 10, elem: flood.map(([val, packets, bytes]) => ({ elem: { val, counter: { packets, bytes } } })) } }, { set: { family: 'inet', name: 'fanout_v6', table: 'cordon_watch', type: 'ipv6_addr', handle: 9 } }],
  });
}

function watcher(answer: ConstructorParameters<typeof RecordingRunner>[0]) {
  const runner = new RecordingRunner(answer);
  const sent: Observation[] = [];
  let now = new Date('2026-12-07T10:00:00Z');
  // What pub0 has sent: the test moves it as a flood (or a quiet host) would.
  const counters = { packets: 1_000, bytes: 64_000 };
  const w = new Watcher({
    runner,
    log: silentLogger(),
    clock: () => now,
    publicInterfaces: plan.publicInterfaces,
    managementNetworks: plan.managementNetworks,
    send: async (o) => void sent.push(o),
    readSent: async () => ({ ...counters }),
  });
  return { w, runner, sent, counters, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

describe('the watch table', () => {
  it('renders golden: counting rules only, before enforcement, management networks left out', async () => {
    await expect(renderWatchTransaction(plan)).toMatchFileSnapshot('./golden/watch/watch-table.nft');
    // No verdict anywhere but the base chains' accept policy: traffic passes as it would without the table.
    expect(renderWatchTransaction(plan).replaceAll('policy accept;', '')).not.toMatch(/\b(drop|reject|accept|queue)\b/);
    expect(renderWatchTransaction(undefined)).toBe('table inet cordon_watch\ndelete table inet cordon_watch\n');
    expect(renderWatchFlush()).toBe(['smtp_v4', 'smtp_v6', 'fanout_v4', 'fanout_v6'].map((s) => `flush set inet cordon_watch ${s}\n`).join(''));
  });

  it("reads nft's listing: packets per destination, and refuses what is not its JSON", () => {
    const counts = readWatchSets(listing([['198.51.100.7', 4], ['198.51.100.8', 2]], [['198.51.100.9', 1]]));
    expect([...counts.smtp]).toEqual([['198.51.100.7', 4], ['198.51.100.8', 2]]);
    expect([...counts.fanout]).toEqual([['198.51.100.9', 1]]);
    expect(() => readWatchSets('Error: No such file or directory')).toThrow(/not JSON/);
    expect(() => readWatchSets('{"x":1}')).toThrow(/no "nftables" array/);
  });

  it('holds a bad policy to what nft can apply, and treats one that measures nothing as none', () => {
    expect(activePolicy({ ...policy, smtpPorts: [0, 25, 25, 70000, 587], windowSeconds: 1 })).toMatchObject({ smtpPorts: [25, 587], windowSeconds: 5 });
    expect(activePolicy({ ...policy, windowSeconds: 999_999 })?.windowSeconds).toBe(3600);
    expect(activePolicy({ ...policy, smtpNewConnections: 0, fanoutDestinations: 0 })).toBeUndefined();
    expect(activePolicy({ ...policy, enabled: false })).toBeUndefined();
    expect(activePolicy({ ...policy, fanoutPorts: [99999] })).toMatchObject({ fanoutPorts: [], fanoutDestinations: 0, smtpNewConnections: 5 });
  });
});

describe("the public interfaces' counters", () => {
  // /proc/net/dev as Linux prints it (proc(5)): two header lines, then per interface 8 receive and 8 transmit fields.
  const dev = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:  123456     789    0    0    0     0          0         0   123456     789    0    0    0     0       0          0',
    '  pub0: 9000000   10000    0    0    0     0          0         0 64000000 1000000    0    0    0     0       0          0',
    'pub1:5 6 0 0 0 0 0 0 640 10 0 0 0 0 0 0',
    '  mgmt0:     100       1    0    0    0     0          0         0      200       2    0    0    0     0       0          0',
  ].join('\n');

  it('sums what the named interfaces sent, and says when none of them is there', () => {
    expect(sentThrough(dev, ['pub0'])).toEqual({ packets: 1_000_000, bytes: 64_000_000 });
    // A name glued to its counters (a long name or a large number leaves no space) reads the same.
    expect(sentThrough(dev, ['pub0', 'pub1'])).toEqual({ packets: 1_000_010, bytes: 64_000_640 });
    expect(sentThrough(dev, ['eth9'])).toBeUndefined();
    expect(sentThrough('not the file', ['pub0'])).toBeUndefined();
  });
});

describe('Watcher', () => {
  it("samples destinations only while the interfaces' counters show the flood rate, and reports a flood of small packets, not a bulk transfer", async () => {
    // What the kernel counted in 3 s: one packet in FLOOD_SAMPLE_ONE_IN (16), so 4,000 samples are 64,000 packets.
    const flood: [string, number, number][] = [
      ['198.51.100.9', 4_000, 4_000 * 64],
      ['198.51.100.10', 4_000, 4_000 * 9000],
      // 3,749 samples are 59,984 packets: under 20,000 a second over the 3 s sampled (60,000).
      ['198.51.100.11', 3_749, 3_749 * 64],
      // The management network is never counted as flooded (the table counts it; the gate leaves it out).
      ['10.255.0.1', 900_000, 900_000 * 64],
    ];
    const { w, runner, sent, counters, advance } = watcher((_cmd: string, args: string[]) => (args[0] === '-j' ? { stdout: listing([], [], flood) } : {}));
    await w.setPolicy({ ...policy, smtpNewConnections: 0, fanoutDestinations: 0, floodPacketsPerSecond: 20_000, floodMaxAverageBytes: 512 });
    const gate = w.floodGate!;
    const sampleRule = (input: string | undefined) => input?.includes('numgen random mod 16 == 0 oifname @public_ifs jump flood') ?? false;
    // The table as applied has no per-packet flood rule: a quiet host pays nothing for the detector.
    expect(runner.calls.filter((c) => sampleRule(c.input))).toEqual([]);
    const step = async (ms: number, packets: number) => {
      advance(ms);
      counters.packets += packets;
      counters.bytes += packets * 64;
      return gate.probe();
    };
    expect(await step(2_000, 1_000)).toBeUndefined(); // 500 a second
    expect(gate.sampling).toBe(false);
    // Counters that went backwards (an interface re-created, or root playing with it) open nothing.
    expect(await step(2_000, -900)).toBeUndefined();
    expect(gate.sampling).toBe(false);
    expect(await step(2_000, 100_000)).toBeUndefined(); // 50,000 a second: over the rate, the sample starts
    expect(gate.sampling).toBe(true);
    expect(runner.calls.at(-1)!.input).toMatch(/^flush set inet cordon_watch flood_v4\nflush set inet cordon_watch flood_v6\nflush chain inet cordon_watch output\n/);
    expect(sampleRule(runner.calls.at(-1)!.input)).toBe(true);
    const from = new Date('2026-12-07T10:00:06Z');
    const found = await step(3_000, 150_000);
    expect(gate.sampling).toBe(false);
    expect(sampleRule(runner.calls.filter((c) => c.input).at(-1)!.input)).toBe(false);
    expect(found).toMatchObject({ kind: 'flood', count: 64_000n, threshold: 60_000n, windowStart: from, windowEnd: new Date(from.getTime() + 3_000) });
    expect(found!.top).toEqual([{ address: '198.51.100.9', connections: 0n, packets: 64_000n, bytes: 4_096_000n }]);
    expect(sent).toEqual([found]);
    // The flood goes on: no new sample until a detection window after this one started.
    for (let t = 0; t < 28; t++) await step(2_000, 100_000); // to 10:01:05
    expect(gate.sampling).toBe(false);
    await step(2_000, 100_000); // 10:01:07, past 10:01:06
    expect(gate.sampling).toBe(true);
    // The window's own reading leaves the flood sets alone (they are the sample's).
    advance(1_000);
    await w.sample();
    expect(runner.calls.at(-1)!.input).toBe(renderWatchFlush());
    expect(renderWatchFlush()).not.toMatch(/flood/);
    await w.stop();
    expect(sampleRule(runner.calls.at(-1)!.input)).toBe(false);
    expect(runner.calls.at(-1)!.input).toMatch(/flush chain inet cordon_watch forward\nadd rule inet cordon_watch forward tcp flags/);
  });

  it('applies the table once for the same policy, and removes it when the policy turns detection off', async () => {
    const { w, runner } = watcher(() => ({}));
    await w.setPolicy(policy);
    await w.setPolicy(structuredClone(policy));
    expect(runner.calls.filter((c) => c.input?.includes('table inet cordon_watch {'))).toHaveLength(1);
    await w.setPolicy({ ...policy, enabled: false });
    expect(runner.calls.at(-1)?.input).toBe('table inet cordon_watch\ndelete table inet cordon_watch\n');
    await w.stop();
  });

  it('removes a watch table left by an earlier run when its first policy is off (detection turned off while it was away)', async () => {
    const { w, runner } = watcher(() => ({}));
    await w.setPolicy({ ...policy, enabled: false });
    expect(runner.calls.map((c) => c.input)).toEqual(['table inet cordon_watch\ndelete table inet cordon_watch\n']);
    await w.stop();
  });

  it('reports what passed a threshold at the end of a window, busiest destinations first, and nothing below it', async () => {
    let smtp: [string, number][] = [['198.51.100.8', 2], ['198.51.100.7', 4]];
    let fanout: [string, number][] = [['198.51.100.9', 1], ['198.51.100.10', 1], ['198.51.100.11', 1], ['198.51.100.12', 1]];
    const { w, sent, runner, advance } = watcher((_cmd: string, args: string[]) => (args[0] === '-j' ? { stdout: listing(smtp, fanout) } : {}));
    await w.setPolicy(policy);
    advance(60_000);
    const found = await w.sample();
    expect(found.map((o) => [o.kind, o.count, o.threshold])).toEqual([
      ['smtp', 6n, 5n],
      ['fanout', 4n, 3n],
    ]);
    expect(found[0]!.top.map((d) => d.address)).toEqual(['198.51.100.7', '198.51.100.8']);
    expect(found[0]!.windowStart).toEqual(new Date('2026-12-07T10:00:00Z'));
    expect(found[0]!.windowEnd).toEqual(new Date('2026-12-07T10:01:00Z'));
    expect(sent).toEqual(found);
    // The window's sets are emptied after they are read.
    expect(runner.calls.at(-1)?.input).toBe(renderWatchFlush());
    smtp = [['198.51.100.7', 5]];
    fanout = [['198.51.100.9', 3]];
    advance(60_000);
    expect(await w.sample()).toEqual([]);
    expect(sent).toHaveLength(2);
    await w.stop();
  });

  it('puts a removed table back and reports nothing for that window', async () => {
    const { w, runner, sent } = watcher((_cmd: string, args: string[]) => (args[0] === '-j' ? { code: 1, stderr: 'Error: No such file or directory' } : {}));
    await w.setPolicy(policy);
    expect(await w.sample()).toEqual([]);
    expect(runner.calls.filter((c) => c.input?.includes('table inet cordon_watch {'))).toHaveLength(2);
    expect(sent).toEqual([]);
    await w.stop();
  });
});
