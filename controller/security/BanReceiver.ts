import type { BanEvent } from '../../proto/gen/cordon/v1/agent.js';
import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { BanOutcome } from './ManagedSecurityPolicies.js';

/**
 * Ban events queued on one stream before the rest are not taken (and not
 * acknowledged: the agent sends them again). An honest agent sends at most
 * its outbox, paced to the host's budget; this bounds what a forged one
 * can make the controller hold.
 */
export const MAX_QUEUED_BAN_EVENTS = 1_000;

/** A run of events not taken because the queue was full: the lowest seq among them. */
interface Gap {
  gapFrom: bigint;
}

/**
 * The receiving end of one agent stream's ban events (go-back-N). Events
 * are recorded one after another in the order they came. Each settled one
 * (recorded, known already, refused as malformed, of a host without managed
 * security) is acknowledged by its seq; one that could not be recorded for
 * now (the host's budget spent, the store failing) is not, and neither is
 * any later event of the stream until the agent goes back to its oldest
 * unacknowledged event and sends from there: the agent sends in ascending
 * seq, so the first event at or below the one held up is that new pass.
 * An end never overtakes its ban. Events with seq 0 (older agents) are
 * recorded as before and never acknowledged.
 */
export class BanReceiver {
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private tail: Gap | undefined;
  /** Events above this seq wait for the agent's next pass. */
  private holdAbove: bigint | undefined;

  constructor(
    private readonly record: (event: BanEvent) => Promise<BanOutcome>,
    private readonly ack: (seq: bigint) => void,
    private readonly log: Logger,
  ) {}

  /** Takes the stream's next ban event; never throws, never waits. */
  take(event: BanEvent): void {
    if (this.queued >= MAX_QUEUED_BAN_EVENTS) {
      // One gap per run of overflow, kept at the chain's tail while the run lasts.
      if (this.tail) {
        if (event.seq > 0n && event.seq < this.tail.gapFrom) this.tail.gapFrom = event.seq;
        return;
      }
      if (event.seq === 0n) return;
      const gap: Gap = { gapFrom: event.seq };
      this.tail = gap;
      this.chain = this.chain.then(() => this.skipped(gap));
      return;
    }
    this.queued++;
    this.tail = undefined;
    this.chain = this.chain.then(() => this.one(event)).finally(() => this.queued--);
  }

  /** Resolves once every event taken so far is settled or held (for tests). */
  idle(): Promise<void> {
    return this.chain;
  }

  private skipped(gap: Gap): void {
    if (this.tail === gap) this.tail = undefined;
    this.log.warn({ from: gap.gapFrom.toString(), limit: MAX_QUEUED_BAN_EVENTS }, 'ban events arriving faster than they are recorded: not taken from this one on (the agent sends them again)');
    this.hold(gap.gapFrom);
  }

  private hold(seq: bigint): void {
    if (seq > 0n) this.holdAbove = this.holdAbove === undefined || seq < this.holdAbove ? seq : this.holdAbove;
  }

  private async one(event: BanEvent): Promise<void> {
    if (event.seq > 0n && this.holdAbove !== undefined) {
      if (event.seq > this.holdAbove) return;
      this.holdAbove = undefined;
    }
    let outcome: BanOutcome | 'refused' | 'failed';
    try {
      outcome = await this.record(event);
    } catch (err) {
      const e = asCordonError(err);
      // Malformed is for good: sending it again would change nothing. Anything else may pass later.
      outcome = e.kind === 'invalid' ? 'refused' : 'failed';
      this.log.warn({ err: e.message, seq: event.seq.toString(), ban: event.banId.slice(0, 80) }, outcome === 'refused' ? 'ban event refused' : 'ban event not recorded for now (the agent sends it again)');
    }
    if (outcome === 'over_budget' || outcome === 'failed') {
      this.hold(event.seq);
      return;
    }
    if (event.seq > 0n) this.ack(event.seq);
  }
}
