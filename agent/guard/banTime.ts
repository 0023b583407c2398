/**
 * How long a source's ban lasts, like fail2ban's bantime.increment with its
 * default factor: the first ban lasts `baseSeconds`, each further one twice
 * the one before, never longer than `maxSeconds`.
 */
export function banSeconds(offence: number, baseSeconds: number, maxSeconds: number): number {
  const base = Math.max(1, Math.floor(baseSeconds));
  const max = Math.max(base, Math.floor(maxSeconds));
  if (!(offence > 1)) return base;
  // 2 ** n grows past any cap quickly; stop doubling once the cap is reached rather than overflow.
  const doublings = Math.min(Math.floor(offence) - 1, 52);
  return Math.min(base * 2 ** doublings, max);
}

/** What the guard remembers of a source between its bans. */
export interface Offences {
  /** Bans so far, counted since the last time the source was forgotten. */
  count: number;
  /** When its last ban ended (or will end), epoch ms. */
  lastEndMs: number;
}

/**
 * The count of the ban about to be placed: one more than the source's
 * earlier bans, or 1 when it has none or its last one ended more than
 * `forgetAfterSeconds` ago (a source that behaved that long starts afresh).
 */
export function nextOffence(previous: Offences | undefined, nowMs: number, forgetAfterSeconds: number): number {
  if (!previous || previous.count < 1) return 1;
  if (nowMs - previous.lastEndMs > forgetAfterSeconds * 1000) return 1;
  return previous.count + 1;
}
