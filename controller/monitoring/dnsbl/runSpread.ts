/** Waits `ms`; rejects (with anything) as soon as `signal` aborts. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export interface SpreadOptions {
  /** Jobs running at once, at most. */
  concurrency: number;
  /** Job i of n starts no earlier than i × spreadMs / n after the first; 0: as fast as concurrency allows. */
  spreadMs: number;
  now: () => number;
  sleep: Sleep;
  /** Jobs not started when it aborts are not started at all. */
  signal: AbortSignal;
}

/**
 * Runs `job` over `items` in order, at most `concurrency` at once, spread
 * evenly over `spreadMs` so a daily check of a thousand addresses does not
 * send them all to the DNSBL in one burst (public mirrors rate-limit by
 * resolver). A worker waiting for an item's slot holds no job slot that a
 * later item could use, since later items' slots are later still.
 * Resolves with the number of items started once every started job ended;
 * `job` should not throw (the first error is rethrown after the others end).
 */
export async function runSpread<T>(items: readonly T[], opts: SpreadOptions, job: (item: T) => Promise<void>): Promise<number> {
  const start = opts.now();
  const step = items.length > 0 ? opts.spreadMs / items.length : 0;
  let next = 0;
  let started = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !opts.signal.aborted) {
      const i = next++;
      const wait = start + i * step - opts.now();
      if (wait > 0) {
        try {
          await opts.sleep(wait, opts.signal);
        } catch (err) {
          if (opts.signal.aborted) return;
          throw err;
        }
      }
      if (opts.signal.aborted) return;
      started++;
      await job(items[i]!);
    }
  };
  const workers = Math.max(0, Math.min(opts.concurrency, items.length));
  const results = await Promise.allSettled(Array.from({ length: workers }, worker));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return started;
}
