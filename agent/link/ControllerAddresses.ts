/**
 * Which controller the agent dials next, out of a list of `count` addresses
 * (configured, or what a DNS name resolved to). Pure: no I/O, no clock; the
 * link asks and tells, and waits when it says so.
 *
 * - The first pick is a random position, so a fleet configured with the
 *   same list spreads over the controllers instead of all landing on the
 *   first.
 * - A failed dial moves to the next address at once; only when every
 *   address of the list failed in a row (a full round) does the link back
 *   off. One dead replica so costs one failed connect, not a backoff.
 * - An established stream that ends moves to the next address too: the
 *   replica that dropped us is likely going away (a restart, a crash).
 * - With one address every failure ends a round, so the link behaves as it
 *   did before lists existed: backoff round n is its n-th failed attempt.
 *
 * The list may change length between calls (a DNS name re-resolved); the
 * position is taken modulo the current length.
 */
export class ControllerAddresses {
  private position: number | undefined;
  private failuresInRound = 0;
  private failedRounds = 0;

  constructor(private readonly random: () => number = Math.random) {}

  /** The index to dial now in a list of `count` (≥ 1) addresses; the first call draws the random start. */
  current(count: number): number {
    if (count < 1) throw new RangeError('no controller address to dial');
    this.position ??= Math.min(count - 1, Math.floor(this.random() * count));
    return this.position % count;
  }

  /**
   * The dial of `current(count)` failed (no Hello accepted): moves to the
   * next address. Returns the backoff round (0, 1, …: the attempt number for
   * backoffDelay) when this failure completed a full round of the list, so
   * the link waits before the next round; undefined when the next address
   * should be tried at once.
   */
  failed(count: number): number | undefined {
    this.advance(count);
    this.failuresInRound++;
    if (this.failuresInRound < count) return undefined;
    this.failuresInRound = 0;
    return this.failedRounds++;
  }

  /** The controller at `current` accepted the Hello: rounds and backoff start again from it. */
  connected(): void {
    this.failuresInRound = 0;
    this.failedRounds = 0;
  }

  /** An established stream ended: the next dial goes to the next address (a full round before any backoff). */
  ended(count: number): void {
    this.advance(count);
    this.failuresInRound = 0;
  }

  private advance(count: number): void {
    this.position = (this.current(count) + 1) % count;
  }
}
