import type { DetectionPolicy, Observation } from '../../proto/gen-messages/cordon/v1/agent.js';
import { cidrContains, type Cidr } from '../../proto/runtime/cidr.js';
import { asCordonError } from '../../proto/runtime/CordonError.js';
import { runChecked, type CommandRunner } from '../../proto/runtime/CommandRunner.js';
import type { Log } from '../../proto/runtime/Log.js';
import type { SentCounters } from './interfaceCounters.js';
import { readWatchSets } from './readWatchSets.js';
import { FLOOD_SAMPLE_ONE_IN, WATCH_TABLE, renderFloodSampling, type WatchPlan } from './watchRuleset.js';

/** How often the public interfaces' own counters are read: a file read, no per-packet cost. */
export const PROBE_MS = 2_000;
/** How long the per-destination sample runs once the counters show the rate: long enough to name and estimate. */
export const SAMPLE_MS = 3_000;

/** The busiest destinations an observation carries as evidence. */
const TOP = 10;

export interface FloodGateDeps {
  runner: CommandRunner;
  log: Log;
  clock: () => Date;
  /** What the public interfaces have sent so far (procSentCounters). */
  readSent: () => Promise<SentCounters | undefined>;
  managementNetworks: Cidr[];
  send: (observation: Observation) => Promise<void>;
}

/**
 * The flood detector's finding, if any: destinations that got more packets
 * than the rate allows over the sampled span, in packets that average no
 * more than the size limit (a bulk transfer's are far larger). Its count is
 * the busiest such destination's packets.
 */
export function floodObservation(flood: Map<string, { packets: number; bytes: number }>, p: DetectionPolicy, start: Date, end: Date): Observation | undefined {
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
 * Per-destination packet counting costs every packet a rule, even sampled
 * (about 10 % of a 64-byte flood's rate, BENCHMARKS §4), so it runs only
 * when it can find something: every PROBE_MS the gate reads what the public
 * interfaces sent (the kernel's counters); when the host as a whole sent
 * more packets a second than one destination may get, it samples one
 * packet in FLOOD_SAMPLE_ONE_IN per destination for SAMPLE_MS, then turns
 * the sample off, judges it, and waits a detection window before sampling
 * again. A flood to one destination over the rate always passes the gate
 * (the whole is at least its part); what the gate misses is a flood shorter
 * than about PROBE_MS + SAMPLE_MS, and packets that Cordon's own
 * enforcement already drops (they never reach the interface's counters).
 */
export class FloodGate {
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; sent: SentCounters } | undefined;
  private sampleFrom: Date | undefined;
  private quietUntil = 0;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: FloodGateDeps,
    private readonly plan: WatchPlan,
    private readonly policy: DetectionPolicy,
  ) {}

  start(): void {
    void this.probe();
    this.timer = setInterval(() => void this.probe(), PROBE_MS);
    this.timer.unref();
  }

  /** Stops probing; a sample in progress is turned off (the table may be about to go anyway). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    if (this.sampleFrom) {
      this.sampleFrom = undefined;
      await this.nft(renderFloodSampling(this.plan, false), 'cannot turn the flood sample off');
    }
  }

  /** Whether the per-destination sample is on now. */
  get sampling(): boolean {
    return this.sampleFrom !== undefined;
  }

  /** One probe: reads the counters, starts or ends a sample. Resolves with what an ended sample reported. */
  probe(): Promise<Observation | undefined> {
    const next = this.running.then(() => this.probeNow());
    this.running = next.catch(() => undefined);
    return next;
  }

  private async probeNow(): Promise<Observation | undefined> {
    if (this.sampleFrom) return this.deps.clock().getTime() - this.sampleFrom.getTime() >= SAMPLE_MS ? this.finish() : undefined;
    const sent = await this.deps.readSent().catch((err: unknown) => {
      this.deps.log.warn({ err: asCordonError(err).message }, "cannot read the public interfaces' counters: the flood detector waits");
      return undefined;
    });
    const now = this.deps.clock().getTime();
    const prev = this.last;
    this.last = sent && { at: now, sent };
    if (!sent || !prev || now < this.quietUntil) return undefined;
    const seconds = (now - prev.at) / 1000;
    const packets = sent.packets - prev.sent.packets;
    // A counter that went backwards (an interface re-created) says nothing about this interval.
    if (!(seconds > 0) || !(packets > 0) || packets / seconds <= this.policy.floodPacketsPerSecond) return undefined;
    if (!(await this.nft(renderFloodSampling(this.plan, true), 'cannot turn the flood sample on'))) return undefined;
    this.sampleFrom = this.deps.clock();
    this.deps.log.info({ packetsPerSecond: Math.round(packets / seconds), threshold: this.policy.floodPacketsPerSecond }, 'the public interfaces send over the flood rate: sampling destinations');
    return undefined;
  }

  private async finish(): Promise<Observation | undefined> {
    const start = this.sampleFrom!;
    this.sampleFrom = undefined;
    await this.nft(renderFloodSampling(this.plan, false), 'cannot turn the flood sample off');
    const end = this.deps.clock();
    this.quietUntil = start.getTime() + this.policy.windowSeconds * 1000;
    this.last = undefined; // the next interval is measured afresh
    const listed = await this.deps.runner.run('nft', ['-j', 'list', 'table', ...WATCH_TABLE.split(' ')]);
    if (listed.code !== 0) {
      this.deps.log.warn({ stderr: listed.stderr.trim() }, 'the watch table is gone: this flood sample is lost');
      return undefined;
    }
    const counts = readWatchSets(listed.stdout).flood;
    // The sample counts every destination; management networks are left out here, not per packet.
    for (const address of counts.keys()) if (this.deps.managementNetworks.some((c) => cidrContains(c, address))) counts.delete(address);
    // One packet in FLOOD_SAMPLE_ONE_IN was counted: the observation carries the estimate of all of them.
    for (const c of counts.values()) {
      c.packets *= FLOOD_SAMPLE_ONE_IN;
      c.bytes *= FLOOD_SAMPLE_ONE_IN;
    }
    const found = floodObservation(counts, this.policy, start, end);
    if (!found) return undefined;
    this.deps.log.warn({ kind: 'flood', count: Number(found.count), threshold: Number(found.threshold) }, 'outbound packets over the flood threshold');
    await this.deps.send(found).catch((err: unknown) => this.deps.log.error({ err: asCordonError(err).message }, 'cannot send an observation'));
    return found;
  }

  private async nft(input: string, what: string): Promise<boolean> {
    try {
      await runChecked(this.deps.runner, 'nft', ['-f', '-'], { input });
      return true;
    } catch (err) {
      this.deps.log.warn({ err: asCordonError(err).message }, what);
      return false;
    }
  }
}
