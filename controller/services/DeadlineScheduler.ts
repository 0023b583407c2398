import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { Clock } from '../clock.js';

export interface DueSource {
  earliestDue(): Promise<{ id: string; dueAt: Date } | undefined>;
  /** Due at or before `t`, earliest first (ties by id); with `after`, only those ordered after it. */
  dueUpTo(t: Date, limit: number, after?: { id: string; dueAt: Date }): Promise<{ id: string; dueAt: Date }[]>;
}

/**
 * Fires a page of due deadlines at once (one transaction); resolves with the
 * failure of each deadline that failed, or rejects when the page as a
 * whole did.
 */
export type FirePage = (page: readonly { id: string; dueAt: Date }[]) => Promise<Map<string, unknown>>;

/** A FirePage that fires each deadline of the page in turn, each on its own. */
export function oneByOne(fire: (incidentId: string, dueAt: Date) => Promise<void>): FirePage {
  return async (page) => {
    const failed = new Map<string, unknown>();
    for (const d of page) await fire(d.id, d.dueAt).catch((err: unknown) => failed.set(d.id, err));
    return failed;
  };
}

/** Deadlines read per query while catching up, and fired together. */
const PAGE = 500;

/**
 * One timer for the earliest deadline in the store. It fires 1 ms after the
 * due time (the lifecycle escalates only strictly after it, so an answer
 * recorded at the due millisecond still wins), processes everything due,
 * and re-arms. `kick()` after any commit re-reads the earliest; `start()`
 * processes what fell due while the controller was down.
 */
export class DeadlineScheduler {
  private cancel: (() => void) | undefined;
  private running: Promise<void> = Promise.resolve();
  /** A run queued behind the current one and not started yet: later kicks share it. */
  private queued: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly source: DueSource,
    /** Fires each page of due deadlines (runController: in one transaction; `oneByOne` for one at a time). */
    private readonly fire: FirePage,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  start(): Promise<void> {
    this.stopped = false;
    return this.kick();
  }

  /**
   * Re-plans the timer; resolves once everything already due has been
   * processed. Kicks while a run waits to start share that run (it reads
   * the store when it starts, so it sees what they announced): a burst of
   * commits costs one run, not one each.
   */
  kick(): Promise<void> {
    if (this.queued) return this.queued;
    const queued = this.running.then(() => {
      this.queued = undefined;
      return this.run();
    });
    this.queued = queued;
    this.running = queued.catch((err: unknown) => {
      this.log.error({ err: asCordonError(err).message }, 'deadline processing failed');
    });
    return this.running;
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    // Each incident is tried once per run: one whose event keeps failing must
    // not spin the loop; it is retried at the next kick or timer.
    const tried = new Set<string>();
    // Pages go forward from the last deadline tried, so one that fails (and stays due) is not read again,
    // however many there are; one that becomes due behind the cursor meanwhile is announced by a kick.
    let after: { id: string; dueAt: Date } | undefined;
    for (;;) {
      const now = this.clock.now();
      const due = await this.source.dueUpTo(new Date(now.getTime() - 1), PAGE, after);
      if (due.length === 0) break;
      after = due.at(-1);
      // One fired already in this run and due again: the next run takes it.
      const page = due.filter((d) => !tried.has(d.id));
      if (page.length === 0) continue;
      for (const d of page) tried.add(d.id);
      const failed = await this.fire(page).catch((err: unknown) => new Map(page.map((d) => [d.id, err])));
      for (const [id, err] of failed) this.log.error({ incident: id, err: asCordonError(err).message }, 'deadline event failed');
    }
    const next = await this.source.earliestDue();
    this.cancel?.();
    this.cancel = undefined;
    if (next && !this.stopped) {
      // A due time already tried (its event failed) is retried in a minute, not in a busy loop;
      // a deadline not yet tried that falls before then still fires on time.
      let at = Math.max(next.dueAt.getTime() + 1, tried.has(next.id) ? this.clock.now().getTime() + 60_000 : 0);
      if (tried.has(next.id) && after) {
        const [untried] = await this.source.dueUpTo(new Date(8.64e15), 1, after);
        if (untried) at = Math.min(at, untried.dueAt.getTime() + 1);
      }
      this.cancel = this.clock.schedule(new Date(at), () => void this.kick());
    }
  }
}
