export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
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
