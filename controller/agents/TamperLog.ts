/**
 * Tamper reports from agents (someone changed Cordon's rules on the server,
 * the agent put them back), kept per host for a window: the switch fallback
 * hands a cut to the switch on a run of them, and the desk shows a cut as
 * unconfirmed while one runs. In memory: each replica counts what its own
 * agents report (an agent reports on the stream it holds).
 */
export class TamperLog {
  private readonly reports = new Map<string, number[]>();

  /** `windowSeconds`: how long a report counts; `threshold`: how many within it make a run. */
  constructor(
    private readonly clock: () => Date,
    readonly windowSeconds: number,
    readonly threshold: number,
  ) {}

  record(hostId: string): void {
    const list = this.reports.get(hostId) ?? [];
    list.push(this.clock().getTime());
    // Bounded: only the window's reports matter, and a hostile agent may send many.
    this.reports.set(hostId, list.slice(-1000));
  }

  /** The host's reports within the window, oldest first. */
  recent(hostId: string): Date[] {
    const now = this.clock().getTime();
    const kept = (this.reports.get(hostId) ?? []).filter((t) => now - t <= this.windowSeconds * 1000);
    if (kept.length === 0) this.reports.delete(hostId);
    else this.reports.set(hostId, kept);
    return kept.map((t) => new Date(t));
  }

  /** Reports within the window at or after `since`. */
  since(hostId: string, since: Date): Date[] {
    return this.recent(hostId).filter((t) => t.getTime() >= since.getTime());
  }

  /** Whether the host's recent reports reach the threshold. */
  isRun(hostId: string): boolean {
    return this.threshold > 0 && this.recent(hostId).length >= this.threshold;
  }
}
