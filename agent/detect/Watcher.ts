import type { DetectionPolicy, Observation } from '../../proto/gen-messages/cordon/v1/agent.js';
import { cidrContains, type Cidr } from '../../proto/runtime/cidr.js';
import { asCordonError } from '../../proto/runtime/CordonError.js';
import { runChecked, type CommandRunner } from '../../proto/runtime/CommandRunner.js';
import type { Logger } from '../../proto/runtime/logger.js';
import { readWatchSets } from './readWatchSets.js';
import { WATCH_TABLE, renderWatchFlush, renderWatchTransaction, FLOOD_SAMPLE_ONE_IN } from './watchRuleset.js';

export interface WatcherDeps {
  runner: CommandRunner;
  log: Logger;
  clock: () => Date;
  publicInterfaces: string[];
  managementNetworks: Cidr[];
  /** Hands an observation to the link (which drops it while disconnected: the next window measures again). */
  send: (observation: Observation) => Promise<void>;
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
 * The flood detector's finding, if any: destinations that got more packets
 * than the rate allows over the window, in packets that average no more
 * than the size limit (a bulk transfer's are far larger). Its count is the
 * busiest such destination's packets.
 */
function floodObservation(flood: Map<string, { packets: number; bytes: number }>, p: DetectionPolicy, start: Date, end: Date): Observation | undefined {
  const seconds = Math.max((end.getTime() - start.getTime()) / 1000, 1);
  const threshold = Math.ceil(p.floodPacketsPerSecond * seconds);
  const over = [...flood]
    .filter(([, c]) => c.packets > threshold && c.bytes / c.packets <= p.floodMaxAverageBytes)
    .sort((a, b) => b[1].packets - a[1].packets || (a[0] < b[0] ? -1 : 1))
    .slice(0, TOP);
  if (over.length === 0) return undefined;
  return {
    kind: 'flood',
    windowStart: start,
    windowEnd: end,
    count: BigInt(over[0]![1].packets),
    threshold: BigInt(threshold),
    top: over.map(([address, c]) => ({ address, connections: 0n, packets: BigInt(c.packets), bytes: BigInt(c.bytes) })),
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

  constructor(private readonly deps: WatcherDeps) {}

  /** Converges to `policy` (undefined or disabled: no table). The same policy again changes nothing, so a reconnect keeps the window. */
  async setPolicy(policy: DetectionPolicy | undefined): Promise<void> {
    const active = activePolicy(policy);
    const key = JSON.stringify(active ?? null);
    if (key === this.appliedKey) return;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await runChecked(this.deps.runner, 'nft', ['-f', '-'], { input: renderWatchTransaction(active && this.plan(active)) });
    this.appliedKey = key;
    this.policy = active;
    this.windowStart = this.deps.clock();
    if (!active) return;
    this.deps.log.info({ windowSeconds: active.windowSeconds, smtp: active.smtpNewConnections, fanout: active.fanoutDestinations }, 'watching outbound connections');
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
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
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
    // The table samples every destination's packets; management networks are left out here, not per packet.
    for (const address of counts.flood.keys()) if (this.deps.managementNetworks.some((c) => cidrContains(c, address))) counts.flood.delete(address);
    // One packet in FLOOD_SAMPLE_ONE_IN was counted: the observation carries the estimate of all of them.
    for (const c of counts.flood.values()) {
      c.packets *= FLOOD_SAMPLE_ONE_IN;
      c.bytes *= FLOOD_SAMPLE_ONE_IN;
    }
    const flood = policy.floodPacketsPerSecond > 0 ? floodObservation(counts.flood, policy, start, end) : undefined;
    if (flood) found.push(flood);
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
