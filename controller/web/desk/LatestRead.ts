import type { DeskChanges } from './DeskChanges.js';

/**
 * One read shared by every page view until something changes: the queue is
 * the same for every operator, so ten desks open on it cost one read per
 * change instead of ten per refresh. A read is reused while DeskChanges'
 * version is the one it started under (every commit and agent change bumps
 * it at once, before any page can ask again) and it is younger than
 * `maxAgeMs` (what only time changes, such as an overdue flag between the
 * deadline and the scheduler's commit, is at most that old). Views in flight
 * at the same time share one read; a failed read is not kept.
 */
export class LatestRead<T> {
  private kept: { version: number; at: number; value: Promise<T> } | undefined;

  constructor(
    private readonly changes: Pick<DeskChanges, 'version'>,
    private readonly read: () => Promise<T>,
    private readonly maxAgeMs = 2_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get(): Promise<T> {
    const version = this.changes.version;
    const at = this.now();
    const k = this.kept;
    if (k && k.version === version && at - k.at < this.maxAgeMs) return k.value;
    const value = this.read();
    const kept = { version, at, value };
    this.kept = kept;
    value.catch(() => {
      if (this.kept === kept) this.kept = undefined;
    });
    return value;
  }
}
