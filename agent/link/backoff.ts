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

/**
 * The wait before the first redial after an established stream ended: when
 * the controller restarts, every agent of the fleet loses its stream in the
 * same instant, and redialling within `initialMs` would land them all in one
 * burst of TLS handshakes the controller cannot serve before their Hellos
 * time out. A uniform draw up to `spreadMs` (capped by `maxMs`) spreads them.
 */
export function firstRedialDelay(policy: BackoffPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(policy.maxMs, policy.spreadMs ?? policy.initialMs));
}
