import { isIP } from 'node:net';

/**
 * Counts wrong tokens per source address (a token bucket of
 * `perMinute` that refills continuously) and says when an address must wait.
 *
 * Hand-written rather than @fastify/rate-limit: that plugin counts every
 * request of a route, while only a miss may cost anything here (a customer
 * reloading their own page must never be slowed), and the check has to come
 * before the lookup on every token route. A miss is charged after the lookup,
 * so the limiter needs a "charge" and a "may it pass" that the plugin does not
 * split. IPv6 sources count per /64 (one subscriber's prefix), so a host
 * cannot multiply its budget by rotating addresses. The map is bounded:
 * past `maxSources` the longest-idle entries go first (a full bucket is
 * forgotten anyway, so an attacker filling the map only evicts the oldest
 * records, never anyone's allowance).
 */
export class BadTokenLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly maxSources = 100_000,
  ) {}

  /** Seconds until `address` may try again, or 0 when it may go ahead. */
  retryAfter(address: string): number {
    const b = this.refilled(sourceKey(address));
    if (!b || b.tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - b.tokens) * 60) / this.perMinute));
  }

  /** Charges one wrong token to `address`. */
  miss(address: string): void {
    const key = sourceKey(address);
    const b = this.refilled(key) ?? { tokens: this.perMinute, at: this.now() };
    b.tokens = Math.max(0, b.tokens - 1);
    // Re-insert: Map order is then least recently charged first, which is what eviction drops.
    this.buckets.delete(key);
    this.buckets.set(key, b);
    while (this.buckets.size > this.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
  }

  /** Addresses with a record (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private refilled(key: string): { tokens: number; at: number } | undefined {
    const b = this.buckets.get(key);
    if (!b) return undefined;
    const t = this.now();
    b.tokens = Math.min(this.perMinute, b.tokens + ((t - b.at) * this.perMinute) / 60_000);
    b.at = t;
    if (b.tokens >= this.perMinute) {
      this.buckets.delete(key);
      return undefined;
    }
    return b;
  }
}

/** The unit an address is counted in: itself for IPv4, its /64 for IPv6 (an IPv4-mapped IPv6 address is IPv4). */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIP(address) !== 6) return address;
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
