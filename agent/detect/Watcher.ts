import type { DetectionPolicy, Observation } from '../../proto/gen-messages/cordon/v1/agent.js';
import type { Cidr } from '../../proto/runtime/cidr.js';
import { asCordonError } from '../../proto/runtime/CordonError.js';
import { runChecked, type CommandRunner } from '../../proto/runtime/CommandRunner.js';
import type { Log } from '../../proto/runtime/Log.js';
import { readWatchSets } from './readWatchSets.js';
import { FloodGate } from './FloodGate.js';
import type { SentCounters } from './interfaceCounters.js';
import { WATCH_TABLE, renderWatchFlush, renderWatchTransaction } from './watchRuleset.js';

export interface WatcherDeps {
  runner: CommandRunner;
  log: Log;
  clock: () => Date;
  publicInterfaces: string[];
  managementNetworks: Cidr[];
  /** Hands an observation to the link (which drops it while disconnected: the next window measures again). */
  send: (observation: Observation) => Promise<void>;
  /** What the public interfaces have sent so far: the flood detector's gate (procSentCounters). */
  readSent: () => Promise<SentCounters | undefined>;
}

/** The busiest destinations an observation carries as evidence. */
const TOP = 10;

/** Windows shorter than this would cost more nft runs than they are worth; longer ones would report too late. */
const MIN_WINDOW_S = 5;
const MAX_WINDOW_S = 3600;

const validPorts = (ports: number[]) => [...new Set(ports.filter((p) => Number.isInteger(p) && p >= 1 && p <= 65_535))].sort((a, b) => a - b);

/**
 * The policy as the agent will apply it, or undefined when it measures
 * nothing: ports outside 1-65535 are dropped and the window is held to
 * [5 s, 1 h], so a bad policy cannot make nft refuse the table or spin.
 */
export function activePolicy(p: DetectionPolicy | undefined): DetectionPolicy | undefined {
  if (!p?.enabled || !(p.windowSeconds > 0)) return undefined;
  const smtpPorts = validPorts(p.smtpPorts);
  const fanoutPorts = validPorts(p.fanoutPorts);
  const smtp = p.smtpNewConnections > 0 && smtpPorts.length > 0;
  const fanout = p.fanoutDestinations > 0 && fanoutPorts.length > 0;
  const flood = p.floodPacketsPerSecond > 0 && p.floodMaxAverageBytes > 0;
  if (!smtp && !fanout && !flood) return undefined;
  return {
    enabled: true,
    windowSeconds: Math.min(Math.max(p.windowSeconds, MIN_WINDOW_S), MAX_WINDOW_S),
    smtpPorts: smtp ? smtpPorts : [],
    smtpNewConnections: smtp ? p.smtpNewConnections : 0,
    fanoutPorts: fanout ? fanoutPorts : [],
    fanoutDestinations: fanout ? p.fanoutDestinations : 0,
    floodPacketsPerSecond: flood ? p.floodPacketsPerSecond : 0,
    floodMaxAverageBytes: flood ? p.floodMaxAverageBytes : 0,
  };
}

function observation(kind: 'smtp' | 'fanout', counts: Map<string, number>, count: number, threshold: number, start: Date, end: Date): Observation {
  const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP);
  return {
    kind,
    windowStart: start,
    windowEnd: end,
    count: BigInt(count),
    threshold: BigInt(threshold),
    top: top.map(([address, n]) => ({ address, connections: BigInt(n), packets: 0n, bytes: 0n })),
  };
}

/**
 * Outbound abuse seen on the host itself: keeps the watch table in place for
 * the controller's detection policy, reads and empties its sets once a
 * window, and reports what passed a threshold. It changes no traffic. A
 * customer with root can remove the table; the next window finds it gone,
 * puts it back and says so in the log (what it missed meanwhile is lost).
 */
export class Watcher {
  private policy: DetectionPolicy | undefined;
  private appliedKey: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private windowStart: Date | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private gate: FloodGate | undefined;

  constructor(private readonly deps: WatcherDeps) {}

  /** The flood detector's gate while it runs (tests drive its probes). */
  get floodGate(): FloodGate | undefined {
    return this.gate;
  }

  /** Converges to `policy` (undefined or disabled: no table). The same policy again changes nothing, so a reconnect keeps the window. */
  async setPolicy(policy: DetectionPolicy | undefined): Promise<void> {
    const active = activePolicy(policy);
    const key = JSON.stringify(active ?? null);
    if (key === this.appliedKey) return;
    await this.halt();
    await runChecked(this.deps.runner, 'nft', ['-f', '-'], { input: renderWatchTransaction(active && this.plan(active)) });
    this.appliedKey = key;
    this.policy = active;
    this.windowStart = this.deps.clock();
    if (!active) return;
    this.deps.log.info({ windowSeconds: active.windowSeconds, smtp: active.smtpNewConnections, fanout: active.fanoutDestinations, flood: active.floodPacketsPerSecond }, 'watching outbound connections');
    if (active.floodPacketsPerSecond > 0) {
      const { runner, log, clock, readSent, managementNetworks, send } = this.deps;
      this.gate = new FloodGate({ runner, log, clock, readSent, managementNetworks, send }, this.plan(active), active);
      this.gate.start();
    }
    this.timer = setInterval(() => void this.sample(), active.windowSeconds * 1000);
    this.timer.unref();
  }

  /** Ends one window now: reads, empties, reports. Returns what it reported. */
  sample(): Promise<Observation[]> {
    const next = this.running.then(() => this.sampleNow());
    this.running = next.catch(() => undefined);
    return next;
  }

  async stop(): Promise<void> {
    await this.halt();
  }

  /** No more windows or flood samples; what runs now finishes first. */
  private async halt(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.gate?.stop();
    this.gate = undefined;
  }

  private async sampleNow(): Promise<Observation[]> {
    const policy = this.policy;
    if (!policy || !this.windowStart) return [];
    const listed = await this.deps.runner.run('nft', ['-j', 'list', 'table', ...WATCH_TABLE.split(' ')]);
    if (listed.code !== 0) {
      this.deps.log.warn({ stderr: listed.stderr.trim() }, 'the watch table is gone (removed on the host?): putting it back; this window is lost');
      await runChecked(this.deps.runner, 'nft', ['-f', '-'], { input: renderWatchTransaction(this.plan(policy)) });
      this.windowStart = this.deps.clock();
      return [];
    }
    // What arrives between the listing and the flush is lost: a few milliseconds of a window.
    // The flood sets are not this window's: FloodGate empties and reads them around its own samples.
    await runChecked(this.deps.runner, 'nft', ['-f', '-'], { input: renderWatchFlush() });
    const end = this.deps.clock();
    const start = this.windowStart;
    this.windowStart = end;
    const counts = readWatchSets(listed.stdout);
    const found: Observation[] = [];
    const smtpTotal = [...counts.smtp.values()].reduce((a, b) => a + b, 0);
    if (policy.smtpNewConnections > 0 && smtpTotal > policy.smtpNewConnections) {
      found.push(observation('smtp', counts.smtp, smtpTotal, policy.smtpNewConnections, start, end));
    }
    if (policy.fanoutDestinations > 0 && counts.fanout.size > policy.fanoutDestinations) {
      found.push(observation('fanout', counts.fanout, counts.fanout.size, policy.fanoutDestinations, start, end));
    }
    for (const o of found) {
      this.deps.log.warn({ kind: o.kind, count: Number(o.count), threshold: Number(o.threshold) }, 'outbound connections over the detection threshold');
      await this.deps.send(o).catch((err: unknown) => this.deps.log.error({ err: asCordonError(err).message }, 'cannot send an observation'));
    }
    return found;
  }

  private plan(p: DetectionPolicy) {
    return { publicInterfaces: this.deps.publicInterfaces, managementNetworks: this.deps.managementNetworks, smtpPorts: p.smtpPorts, fanoutPorts: p.fanoutPorts, flood: p.floodPacketsPerSecond > 0 };
  }
}
