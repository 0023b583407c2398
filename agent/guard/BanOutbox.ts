import type { BanEvent } from '../../proto/gen-messages/cordon/v1/agent.js';
import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { Log } from '../../proto/runtime/Log.js';
import type { Ban } from './GuardStateFile.js';

export type BanChange = 'banned' | 'expired' | 'removed';

/** One ban event no controller has taken yet, as the agent saw it. */
export interface PendingBanEvent {
  change: BanChange;
  /** The ban as it was when the change was seen. */
  ban: Ban;
  /** When the agent saw the change (BanEvent.changed_at). */
  changedAtMs: number;
  /** The agent's number for it (BanEvent.seq), counting up over the agent's life; what the controller's ack names. */
  seq: number;
}

/** The undelivered ban events, oldest first, and how many were dropped past the bound since the last delivery. */
export interface PendingBans {
  events: PendingBanEvent[];
  dropped: number;
  /** The seq the next event gets. */
  nextSeq: number;
}

/**
 * Ban events kept while no controller takes them. Each is a few hundred
 * bytes of guard.json; a thousand cover a day's brute-force wave on one
 * host. Past it the oldest are dropped: a dropped ban still in force is
 * sent again after the next Hello, a dropped end is not.
 */
export const MAX_PENDING_BAN_EVENTS = 1_000;

/**
 * Ban events per minute the controller records when its policy does not
 * say (an older controller): its default `managedSecurity.maxEventsPerMinute`.
 */
export const DEFAULT_EVENTS_PER_MINUTE = 120;

/**
 * How long a sent event may wait for the controller's acknowledgement
 * before the agent goes back to its oldest unacknowledged event and sends
 * again from there. The controller settles an event in milliseconds; what
 * waits this long was lost with a stream, or refused for now (its budget).
 */
export const ACK_WAIT_MS = 30_000;

/** Queues an event after the others, numbered; past `limit` the oldest go, counted in `dropped`. */
export function queueBanEvent(pending: PendingBans, event: Omit<PendingBanEvent, 'seq'>, limit = MAX_PENDING_BAN_EVENTS): void {
  pending.events.push({ ...event, seq: pending.nextSeq++ });
  const over = pending.events.length - limit;
  if (over > 0) {
    pending.events.splice(0, over);
    pending.dropped += over;
  }
}

/** Whether a 'banned' event of this ban waits already (the resend after Hello must not queue a second). */
export function holdsBanned(pending: PendingBans, banId: string): boolean {
  return pending.events.some((e) => e.change === 'banned' && e.ban.id === banId);
}

/** The message sent for a pending event. */
export function banEventMessage(e: PendingBanEvent): BanEvent {
  const b = e.ban;
  return { banId: b.id, address: b.address, change: e.change, services: b.services, bannedAt: new Date(b.bannedAtMs), expiresAt: new Date(b.expiresAtMs), offence: b.offence, seconds: b.seconds, changedAt: new Date(e.changedAtMs), seq: BigInt(e.seq) };
}

/**
 * The controller's per-host budget of ban events per minute, kept on the
 * agent's side: at most 90 % of it (slack for network delay between the
 * two clocks' minutes) in any 60 s. Events over it wait in the outbox for
 * a later tick instead of being dropped by the controller, which the agent
 * could not tell from delivered.
 */
export class EventPace {
  private readonly sent: number[] = [];

  constructor(private perMinute = DEFAULT_EVENTS_PER_MINUTE) {}

  /** A policy's `max_events_per_minute`; absent or 0 keeps the one known before. */
  tell(perMinute: number | undefined): void {
    if (perMinute && perMinute > 0) this.perMinute = perMinute;
  }

  allows(nowMs: number): boolean {
    while (this.sent.length > 0 && this.sent[0]! <= nowMs - 60_000) this.sent.shift();
    return this.sent.length < Math.max(1, Math.floor(this.perMinute * 0.9));
  }

  count(nowMs: number): void {
    this.sent.push(nowMs);
  }
}

/**
 * Hands the pending events to the link in order, paced; the first send that
 * fails (no controller stream, a full poll queue) or the pace's limit stops
 * it, and the rest wait for the next new event, Hello or tick.
 *
 * With a controller that acknowledges (ManagedSecurity.acknowledges_ban_events),
 * a sent event stays in the outbox until its BanEventAck: `true` from the
 * link only means written to a stream, which may break before the controller
 * reads it. When the oldest event waits longer than ACK_WAIT_MS, or a new
 * stream starts, the agent goes back to it and sends everything after it
 * again, in order (go-back-N): the controller skips what it has, and an end
 * never reaches it before its ban. Without acknowledgements (an older
 * controller), an event handed to the stream is done, as before.
 */
export class BanOutbox {
  readonly pace = new EventPace();
  private acks = false;
  /** Sent and not yet acknowledged: seq → when sent. In memory only: after a restart everything pending is sent again. */
  private readonly inFlight = new Map<number, number>();

  constructor(
    private readonly send: (event: BanEvent) => Promise<boolean>,
    private readonly log: Log,
  ) {}

  /** Whether the controller acknowledges ban events (from its policy; kept in the state file across restarts). */
  expectAcks(acks: boolean): void {
    this.acks = acks;
    if (!acks) this.inFlight.clear();
  }

  /** A new stream: what was sent on the old one is sent again. */
  restart(): void {
    this.inFlight.clear();
  }

  /**
   * Sends what it can. Without acknowledgements each event handed over
   * leaves the outbox and `onDone` is called with it; with them, the event
   * stays until `acknowledge`. Returns how many were handed over.
   */
  async flush(pending: PendingBans, nowMs: () => number, onDone: (e: PendingBanEvent) => void): Promise<number> {
    if (this.acks) this.goBackIfLate(pending, nowMs());
    let sent = 0;
    let i = 0;
    while (i < pending.events.length && this.pace.allows(nowMs())) {
      const e = pending.events[i]!;
      if (this.acks && this.inFlight.has(e.seq)) {
        i++;
        continue;
      }
      const ok = await this.send(banEventMessage(e)).catch((err: unknown) => {
        this.log.error({ err: asCordonError(err).message }, 'cannot send a ban event');
        return false;
      });
      if (!ok) break;
      this.pace.count(nowMs());
      sent++;
      if (this.acks) {
        this.inFlight.set(e.seq, nowMs());
        i++;
      } else {
        pending.events.splice(i, 1);
        onDone(e);
      }
    }
    if (sent > 0 && pending.dropped > 0) {
      this.log.warn({ dropped: pending.dropped, limit: MAX_PENDING_BAN_EVENTS }, 'ban events dropped while no controller took them (over MAX_PENDING_BAN_EVENTS, the oldest first): the controller never hears of them');
      pending.dropped = 0;
    }
    return sent;
  }

  /** The controller settled these events: they leave the outbox (`onDone` with each). Returns how many were pending. */
  acknowledge(pending: PendingBans, seqs: readonly bigint[], onDone: (e: PendingBanEvent) => void): number {
    const settled = new Set(seqs.map(Number));
    const kept: PendingBanEvent[] = [];
    let n = 0;
    for (const e of pending.events) {
      if (!settled.has(e.seq)) {
        kept.push(e);
        continue;
      }
      this.inFlight.delete(e.seq);
      onDone(e);
      n++;
    }
    pending.events = kept;
    return n;
  }

  /** The oldest event waited too long for its acknowledgement: everything is sent again from it. */
  private goBackIfLate(pending: PendingBans, now: number): void {
    // Events dropped past the bound never get an ack: forget them.
    if (this.inFlight.size > 0) {
      const held = new Set(pending.events.map((e) => e.seq));
      for (const seq of this.inFlight.keys()) if (!held.has(seq)) this.inFlight.delete(seq);
    }
    const head = pending.events[0];
    const sentAt = head && this.inFlight.get(head.seq);
    if (sentAt === undefined || now - sentAt < ACK_WAIT_MS) return;
    this.log.warn({ seq: head!.seq, waitedMs: now - sentAt, inFlight: this.inFlight.size }, 'no acknowledgement of a ban event: sending again from it');
    this.inFlight.clear();
  }
}
