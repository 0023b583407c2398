import type { BanEvent } from '../../proto/gen-messages/cordon/v1/agent.js';
import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { Ban } from './GuardStateFile.js';

export type BanChange = 'banned' | 'expired' | 'removed';

/** One ban event no controller has taken yet, as the agent saw it. */
export interface PendingBanEvent {
  change: BanChange;
  /** The ban as it was when the change was seen. */
  ban: Ban;
  /** When the agent saw the change (BanEvent.changed_at). */
  changedAtMs: number;
}

/** The undelivered ban events, oldest first, and how many were dropped past the bound since the last delivery. */
export interface PendingBans {
  events: PendingBanEvent[];
  dropped: number;
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

/** Queues an event after the others; past `limit` the oldest go, counted in `dropped`. */
export function queueBanEvent(pending: PendingBans, event: PendingBanEvent, limit = MAX_PENDING_BAN_EVENTS): void {
  pending.events.push(event);
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
  return { banId: b.id, address: b.address, change: e.change, services: b.services, bannedAt: new Date(b.bannedAtMs), expiresAt: new Date(b.expiresAtMs), offence: b.offence, seconds: b.seconds, changedAt: new Date(e.changedAtMs) };
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
 * Hands the pending events to the link in order: the first send that fails
 * (no controller stream, a full poll queue) or the pace's limit stops it,
 * and the rest wait for the next new event, Hello or tick. `true` from the
 * link means written to a stream, not recorded: a ban lost that way is
 * sent again after a later Hello (Guard.setPolicy), an end is not.
 */
export class BanOutbox {
  readonly pace = new EventPace();

  constructor(
    private readonly send: (event: BanEvent) => Promise<boolean>,
    private readonly log: Logger,
  ) {}

  /** Sends what it can; calls `onSent` with each event handed over, and returns how many were. */
  async flush(pending: PendingBans, nowMs: () => number, onSent: (e: PendingBanEvent) => void): Promise<number> {
    let sent = 0;
    while (pending.events.length > 0 && this.pace.allows(nowMs())) {
      const e = pending.events[0]!;
      const ok = await this.send(banEventMessage(e)).catch((err: unknown) => {
        this.log.error({ err: asCordonError(err).message }, 'cannot send a ban event');
        return false;
      });
      if (!ok) break;
      pending.events.shift();
      this.pace.count(nowMs());
      onSent(e);
      sent++;
    }
    if (sent > 0 && pending.dropped > 0) {
      this.log.warn({ dropped: pending.dropped, limit: MAX_PENDING_BAN_EVENTS }, 'ban events dropped while no controller took them (over MAX_PENDING_BAN_EVENTS, the oldest first): the controller never hears of them');
      pending.dropped = 0;
    }
    return sent;
  }
}
