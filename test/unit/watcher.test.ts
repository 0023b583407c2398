import { describe, expect, it } from 'vitest';
import { Watcher, activePolicy } from '../../agent/detect/Watcher.js';
import { readWatchSets } from '../../agent/detect/readWatchSets.js';
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
  const w = new Watcher({ runner, log: silentLogger(), clock: () => now, publicInterfaces: plan.publicInterfaces, managementNetworks: plan.managementNetworks, send: async (o) => void sent.push(o) });
  return { w, runner, sent, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

describe('the watch table', () => {
  it('renders golden: counting rules only, before enforcement, management networks left out', async () => {
    await expect(renderWatchTransaction(plan)).toMatchFileSnapshot('./golden/watch/watch-table.nft');
    // No verdict anywhere but the base chains' accept policy: traffic passes as it would without the table.
    expect(renderWatchTransaction(plan).replaceAll('policy accept;', '')).not.toMatch(/\b(drop|reject|accept|queue)\b/);
    expect(renderWatchTransaction(undefined)).toBe('table inet cordon_watch\ndelete table inet cordon_watch\n');
    expect(renderWatchFlush()).toBe(['smtp_v4', 'smtp_v6', 'fanout_v4', 'fanout_v6', 'flood_v4', 'flood_v6'].map((s) => `flush set inet cordon_watch ${s}\n`).join(''));
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

describe('Watcher', () => {
  it('reports a flood of small packets to one destination from the sampled counts, and not a bulk transfer of large ones at the same rate', async () => {
    // What the kernel counted: one packet in FLOOD_SAMPLE_ONE_IN (16), so 93,750 samples are 1,500,000 packets.
    const flood: [string, number, number][] = [
      ['198.51.100.9', 93_750, 93_750 * 64],
      ['198.51.100.10', 93_750, 93_750 * 9000],
      // 74,999 samples are 1,199,984 packets: under 20,000 a second over the minute (1,200,000).
      ['198.51.100.11', 74_999, 74_999 * 64],
      // The management network is never counted as flooded (the table counts it; the watcher leaves it out).
      ['10.255.0.1', 9_000_000, 9_000_000 * 64],
    ];
    const { w, advance } = watcher((_cmd: string, args: string[]) => (args[0] === '-j' ? { stdout: listing([], [], flood) } : {}));
    await w.setPolicy({ ...policy, smtpNewConnections: 0, fanoutDestinations: 0, floodPacketsPerSecond: 20_000, floodMaxAverageBytes: 512 });
    advance(60_000);
    const [found, ...rest] = await w.sample();
    expect(rest).toEqual([]);
    expect(found).toMatchObject({ kind: 'flood', count: 1_500_000n, threshold: 1_200_000n });
    expect(found!.top).toEqual([{ address: '198.51.100.9', connections: 0n, packets: 1_500_000n, bytes: 96_000_000n }]);
    await w.stop();
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
