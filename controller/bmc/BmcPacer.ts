import { setTimeout as delay } from 'node:timers/promises';
import { CordonError } from '../../proto/runtime/CordonError.js';

/** The time the pacer reads and waits on; tests pass one they move by hand. */
export interface PacerClock {
  now(): Date;
  /** Resolves after `ms`; rejects (with anything) as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemPacerClock: PacerClock = {
  now: () => new Date(),
  sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : {}),
};

export interface PacerOptions {
  /** Jobs running at once across all BMCs. */
  concurrency: number;
  /** Least time between the end of one job for a BMC and the start of the next for the same BMC. */
  minIntervalMs: number;
}

/**
 * Runs jobs against BMCs so that no BMC is hammered and the controller does
 * not flood the management network:
 *
 * - jobs for the same key (one BMC) run one after another, and each starts at
 *   least `minIntervalMs` after the previous one ended. Some BMCs hang or
 *   reboot when polled faster (bare-metal managers use 5 s for that reason),
 *   so a job that comes early waits; it is never dropped or merged.
 * - at most `concurrency` jobs run at once overall. A job waiting out its
 *   interval does not hold one of those slots.
 *
 * `run` rejects with a CordonError `transient` if `signal` aborts while the
 * job waits; once the job has started it runs to its end (the job itself may
 * watch the signal).
 */
export class BmcPacer {
  /** The tail of each BMC's queue: resolves when its last queued job is done. */
  private readonly tails = new Map<string, Promise<void>>();
  /** When each BMC's last job ended (ms since epoch). */
  private readonly lastEnd = new Map<string, number>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly opts: PacerOptions,
    private readonly clock: PacerClock = systemPacerClock,
  ) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new CordonError('invalid', 'must be a positive integer', { field: 'concurrency' });
    if (!(opts.minIntervalMs >= 0)) throw new CordonError('invalid', 'must be zero or more', { field: 'minIntervalMs' });
  }

  async run<T>(key: string, signal: AbortSignal | undefined, job: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    // The next job waits for ours and, through `previous`, for every earlier one,
    // even if ours is aborted before it starts.
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    try {
      await abortable(previous, signal);
      const last = this.lastEnd.get(key);
      const wait = last === undefined ? 0 : last + this.opts.minIntervalMs - this.clock.now().getTime();
      if (wait > 0) await this.sleep(wait, signal);
      await this.acquire(signal);
      try {
        return await job();
      } finally {
        this.lastEnd.set(key, this.clock.now().getTime());
        this.release();
      }
    } finally {
      done();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  private async sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.clock.sleep(ms, signal);
    } catch (err) {
      throw aborted(err);
    }
  }

  private async acquire(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) throw aborted(signal.reason);
    if (this.running < this.opts.concurrency) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(aborted(signal?.reason));
      };
      // `release` hands its slot straight to the first waiter, so `running` never dips.
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiting.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

function aborted(cause: unknown): CordonError {
  return new CordonError('transient', 'BMC check aborted before it ran', { cause });
}

/** Waits for `p` unless `signal` aborts first. */
async function abortable(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) throw aborted(signal.reason);
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(aborted(signal.reason));
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
