import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcBackend } from '../../agent/backends/tcBackend.js';
import type { EnforcementPlan } from '../../agent/enforce/plan.js';
import { ExecRunner, type CommandResult, type CommandRunner, type RunOptions } from '../../proto/runtime/CommandRunner.js';
import { inNs, NetLab } from '../helpers/netns.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';

const gate = systemTestGate(['ip', 'tc', 'iperf3']);
explainSkip('throttle.test.ts', gate);

const PORT = 5201;
const MBIT = 1_000_000;

/** Runs commands for real and keeps the ones that change something (every read passes -j). */
/** Records every change: a batch (`tc -batch -`) as its lines, quotes dropped. */
class TappedRunner implements CommandRunner {
  changes: string[] = [];
  constructor(private readonly inner: CommandRunner) {}
  run(command: string, args: string[], opts?: RunOptions): Promise<CommandResult> {
    if (args[0] === '-batch') {
      for (const line of (opts?.input ?? '').split('\n').filter(Boolean)) this.changes.push(`${command} ${line.replace(/"/g, '')}`);
    } else if (!args.includes('-j')) {
      this.changes.push([command, ...args].join(' '));
    }
    return this.inner.run(command, args, opts);
  }
}

describe.skipIf(!gate.ok)('THROTTLE with tc in a namespace host', () => {
  let lab: NetLab;
  let runner: TappedRunner;
  let backend: TcBackend;
  let before: Record<string, unknown>;
  let pub0Index: number;
  const plan = (throttleBps: number | undefined): EnforcementPlan => ({
    publicInterfaces: ['pub0'],
    managementNetworks: [],
    smtp: undefined,
    isolate: false,
    throttleBps,
    linksDown: [],
  });

  /** The host's qdiscs per device (refcnt dropped: it counts kernel references, not configuration) and pub0's classes. */
  const snapshot = (): Record<string, unknown> => {
    const qdiscs = JSON.parse(inNs(lab.host, 'tc', '-j', 'qdisc', 'show')) as { dev: string; refcnt?: number }[];
    return {
      qdiscs: qdiscs.map(({ refcnt: _, ...q }) => q),
      pub0Classes: inNs(lab.host, 'tc', 'class', 'show', 'dev', 'pub0'),
      links: (JSON.parse(inNs(lab.host, 'ip', '-j', 'link', 'show')) as { ifname: string }[]).map((l) => l.ifname),
    };
  };

  /** One bounded iperf3 run from the host; bits/s the receiver saw. */
  const iperf = async (direction: 'egress' | 'ingress', seconds: number): Promise<number> => {
    const args = ['-c', lab.addr.inet4, '-p', String(PORT), '-t', String(seconds), '-J', '--connect-timeout', '2000'];
    // The single iperf3 server can still be tearing down the previous test
    // and reset the next control connection: retry that case, at most thrice.
    for (let attempt = 1; ; attempt++) {
      const r = await new ExecRunner(lab.host).run('iperf3', direction === 'ingress' ? [...args, '-R'] : args, { timeoutMs: (seconds + 10) * 1000 });
      const out = JSON.parse(r.stdout || '{}') as { error?: string; end?: { sum_received?: { bits_per_second: number } } };
      const bps = out.end?.sum_received?.bits_per_second;
      if (r.code === 0 && !out.error && bps !== undefined) return bps;
      const busy = /unable to connect|busy|reset by peer/i.test(out.error ?? r.stderr);
      if (!busy || attempt === 3) throw new Error(`iperf3 ${direction} failed: ${out.error ?? r.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };

  const measured: Record<string, number> = {};
  const measure = async (label: string, direction: 'egress' | 'ingress', seconds: number): Promise<number> => {
    const bps = await iperf(direction, seconds);
    measured[`${label} ${direction}`] = bps;
    console.log(`throttle ${label} ${direction}: ${(bps / MBIT).toFixed(2)} Mbit/s`);
    return bps;
  };

  beforeAll(async () => {
    lab = NetLab.create('throttle');
    runner = new TappedRunner(new ExecRunner(lab.host));
    backend = new TcBackend(runner);
    // The customer's own shaping, which Cordon must leave as it is: an HTB
    // root on pub0 (10 Gbit/s, so it does not limit the test) and a TBF on mgmt0.
    inNs(lab.host, 'tc', 'qdisc', 'add', 'dev', 'pub0', 'root', 'handle', '7:', 'htb', 'default', '1');
    inNs(lab.host, 'tc', 'class', 'add', 'dev', 'pub0', 'parent', '7:', 'classid', '7:1', 'htb', 'rate', '10gbit');
    inNs(lab.host, 'tc', 'qdisc', 'add', 'dev', 'mgmt0', 'root', 'handle', '5:', 'tbf', 'rate', '1gbit', 'burst', '1mb', 'limit', '10mb');
    before = snapshot();
    pub0Index = (JSON.parse(inNs(lab.host, 'ip', '-j', 'link', 'show', 'pub0')) as { ifindex: number }[])[0]!.ifindex;
    lab.track(spawn('ip', ['netns', 'exec', lab.internet, 'iperf3', '-s', '-B', lab.addr.inet4, '-p', String(PORT)], { stdio: 'ignore' }));
    await waitFor('iperf3 to listen', () => inNs(lab.internet, 'ss', '-Hltn', `sport = :${PORT}`).includes(String(PORT)), 5_000, 50);
  });

  afterAll(() => {
    if (!lab) return;
    console.log('throttle measured (Mbit/s):', Object.fromEntries(Object.entries(measured).map(([k, v]) => [k, Number((v / MBIT).toFixed(2))])));
    // Any iperf3 still alive in the lab's namespaces is this file's.
    for (const ns of [lab.host, lab.internet]) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
      for (const pid of pids.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    lab.destroy();
  });

  it('holds 10 Mbit/s both ways, and a second apply changes nothing', async () => {
    await backend.apply(plan(10 * MBIT));
    expect(await backend.observe(plan(10 * MBIT))).toEqual({ interfaces: [{ name: 'pub0', rateBps: 10 * MBIT, egress: true, ingress: true }] });
    runner.changes = [];
    await backend.apply(plan(10 * MBIT));
    expect(runner.changes).toEqual([]);

    for (const d of ['egress', 'ingress'] as const) {
      const bps = await measure('10M', d, 4);
      expect(bps).toBeGreaterThan(9 * MBIT);
      expect(bps).toBeLessThan(11 * MBIT);
    }
  });

  it('leaves the customer\'s qdiscs alone while applied', () => {
    const now = snapshot() as { qdiscs: { dev: string; kind: string }[]; links: string[] };
    const theirs = now.qdiscs.filter((q) => !q.dev.startsWith('cdn') && !(q.dev === 'pub0' && q.kind === 'clsact'));
    expect(theirs).toEqual(before.qdiscs);
    expect(now.links.filter((l) => !l.startsWith('cdn'))).toEqual(before.links);
    expect(inNs(lab.host, 'tc', 'class', 'show', 'dev', 'pub0')).toEqual(before.pub0Classes);
  });

  it('moves to 100 Mbit/s by changing the buckets in place', async () => {
    runner.changes = [];
    await backend.apply(plan(100 * MBIT));
    expect(runner.changes).toHaveLength(2);
    expect(runner.changes.every((c) => c.startsWith('tc qdisc change dev cdn'))).toBe(true);

    for (const d of ['egress', 'ingress'] as const) {
      const bps = await measure('100M', d, 4);
      expect(bps).toBeGreaterThan(90 * MBIT);
      expect(bps).toBeLessThan(110 * MBIT);
    }
  });

  it('sees a third party delete its clsact, and the next apply restores it', async () => {
    inNs(lab.host, 'tc', 'qdisc', 'del', 'dev', 'pub0', 'clsact');
    expect(await backend.observe(plan(100 * MBIT))).toEqual({ interfaces: [{ name: 'pub0', rateBps: undefined, egress: false, ingress: false }] });
    runner.changes = [];
    await backend.apply(plan(100 * MBIT));
    expect(runner.changes).toEqual([
      'tc qdisc add dev pub0 clsact',
      `tc filter add dev pub0 egress pref 49374 protocol all u32 match u32 0 0 action mirred egress redirect dev cdne${pub0Index}`,
      `tc filter add dev pub0 ingress pref 49374 protocol all u32 match u32 0 0 action mirred egress redirect dev cdni${pub0Index}`,
    ]);
    expect(await backend.observe(plan(100 * MBIT))).toEqual({ interfaces: [{ name: 'pub0', rateBps: 100 * MBIT, egress: true, ingress: true }] });
  });

  it('release returns the host exactly to how it was, unthrottled', async () => {
    await backend.release(plan(100 * MBIT));
    expect(snapshot()).toEqual(before);
    expect(await backend.observe(plan(undefined))).toEqual({ interfaces: [{ name: 'pub0', rateBps: undefined, egress: false, ingress: false }] });
    runner.changes = [];
    await backend.release(plan(undefined));
    expect(runner.changes).toEqual([]);

    for (const d of ['egress', 'ingress'] as const) {
      expect(await measure('released', d, 3)).toBeGreaterThan(200 * MBIT);
    }
  });
});
