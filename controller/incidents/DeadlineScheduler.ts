import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { Clock } from '../clock.js';

export interface DueSource {
  earliestDue(): Promise<{ id: string; dueAt: Date } | undefined>;
  dueUpTo(t: Date, limit: number): Promise<{ id: string; dueAt: Date }[]>;
}

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
  private stopped = false;

  constructor(
    private readonly source: DueSource,
    private readonly fire: (incidentId: string, dueAt: Date) => Promise<void>,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  start(): Promise<void> {
    this.stopped = false;
    return this.kick();
  }

  /** Re-plans the timer; resolves once everything already due has been processed. */
  kick(): Promise<void> {
    this.running = this.running.then(() => this.run()).catch((err: unknown) => {
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
    for (;;) {
      const now = this.clock.now();
      const due = (await this.source.dueUpTo(new Date(now.getTime() - 1), 500)).filter((d) => !tried.has(d.id));
      if (due.length === 0) break;
      for (const d of due) {
        tried.add(d.id);
        await this.fire(d.id, d.dueAt).catch((err: unknown) =>
          this.log.error({ incident: d.id, err: asCordonError(err).message }, 'deadline event failed'),
        );
      }
    }
    const next = await this.source.earliestDue();
    this.cancel?.();
    this.cancel = undefined;
    if (next && !this.stopped) {
      // A due time already tried (its event failed) is retried in a minute, not in a busy loop.
      const at = Math.max(next.dueAt.getTime() + 1, tried.has(next.id) ? this.clock.now().getTime() + 60_000 : 0);
      this.cancel = this.clock.schedule(new Date(at), () => void this.kick());
    }
  }
}
