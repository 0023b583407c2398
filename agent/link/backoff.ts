export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Ceiling of the first redial after an established stream ended (see firstRedialDelay); absent: initialMs. */
  spreadMs?: number | undefined;
}

/**
 * Capped exponential backoff with full jitter (a uniform draw between 0 and
 * the capped exponential), so a fleet that lost its controller at the same
 * moment does not reconnect in lock-step. `attempt` counts from 0.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = policy.initialMs * 2 ** Math.min(attempt, 30);
  const ceiling = Math.min(policy.maxMs, exp);
  return Math.floor(random() * ceiling);
}

/** The longest spread a controller may ask an agent to wait over (a broken or hostile controller cannot park its fleet for longer). */
export const MAX_TOLD_SPREAD_MS = 300_000;

/**
 * The wait before the first redial after an established stream ended: when
 * the controller restarts, every agent of the fleet loses its stream in the
 * same instant, and redialling within `initialMs` would land them all in one
 * burst of TLS handshakes the controller cannot serve before their Hellos
 * time out. A uniform draw up to `spreadMs` (capped by `maxMs`) spreads them;
 * when the controller told a longer spread (`toldSpreadMs`, from its pings:
 * its fleet's size over the rate it admits), that one, up to
 * MAX_TOLD_SPREAD_MS.
 */
export function firstRedialDelay(policy: BackoffPolicy, random: () => number = Math.random, toldSpreadMs = 0): number {
  const own = Math.min(policy.maxMs, policy.spreadMs ?? policy.initialMs);
  const told = Math.min(Math.max(0, toldSpreadMs), MAX_TOLD_SPREAD_MS);
  return Math.floor(random() * Math.max(own, told));
}
