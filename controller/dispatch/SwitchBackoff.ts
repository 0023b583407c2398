import type { HostSwitch } from '../store/SwitchesRepo.js';

/** The first retry after a failure that may pass (a timeout, a refused connection). */
const FIRST_RETRY_MS = 5_000;
/** Transient failures back off up to this. */
const MAX_RETRY_MS = 300_000;
/**
 * A switch that refuses us for a reason that will not pass by itself (its
 * host key is not the pinned one, it refuses our key, the key file is
 * unreadable): retried this rarely, or at once when its inventory entry
 * changes (a new pin, a new key). Hammering a switch with logins it refuses
 * gets the controller's address blocked by the switch's own defences.
 */
const TERMINAL_RETRY_MS = 600_000;
const TERMINAL_KINDS = new Set(['permission', 'unauthenticated', 'invalid', 'refused', 'unsupported']);

/**
 * When the switch fallback may try a host's switch again after a failure:
 * doubling from 5 s (never below the sweep interval) up to 5 min for a
 * transient failure, 10 min for one that will not pass by itself. In memory,
 * per controller: a restart tries once at once.
 */
export class SwitchBackoff {
  private readonly state = new Map<string, { failures: number; nextAt: number; target: string }>();

  constructor(private readonly sweepMs: number) {}

  /** Whether the host's switch may be tried now. A changed inventory entry makes it due at once. */
  due(sw: HostSwitch, now: number): boolean {
    const s = this.state.get(sw.hostId);
    if (!s) return true;
    if (s.target !== JSON.stringify(sw.target)) {
      this.state.delete(sw.hostId);
      return true;
    }
    return now >= s.nextAt;
  }

  /** Records a failure of kind `kind` at `now`; returns the delay before the next try. */
  failed(sw: HostSwitch, kind: string, now: number): number {
    const failures = (this.state.get(sw.hostId)?.failures ?? 0) + 1;
    const delay = TERMINAL_KINDS.has(kind) ? TERMINAL_RETRY_MS : Math.min(MAX_RETRY_MS, Math.max(this.sweepMs, FIRST_RETRY_MS * 2 ** (failures - 1)));
    this.state.set(sw.hostId, { failures, nextAt: now + delay, target: JSON.stringify(sw.target) });
    return delay;
  }

  succeeded(hostId: string): void {
    this.state.delete(hostId);
  }
}
