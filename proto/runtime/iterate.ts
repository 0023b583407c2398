import { CordonError } from './CordonError.js';

/**
 * Iterates `source` until it ends or `signal` aborts; on abort the loop
 * throws the abort reason instead of waiting for the next message forever.
 * The source's iterator is not returned early: for a gRPC stream that would
 * destroy the call, and the caller ends the call itself.
 *
 * One abort listener serves the whole loop and rejects whichever wait is
 * current. Racing every message against one long-lived "aborted" promise
 * would leave a reaction on it per message, each holding that message, for
 * as long as the stream lives (an agent stream lives for weeks: ~350 bytes
 * per heartbeat, measured in test/bench/fleet.mjs); adding and removing a
 * listener per message was a tenth of an idle controller's busy time.
 */
export async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const reason = () => signal.reason ?? new CordonError('transient', 'aborted');
  let rejectWait: ((err: unknown) => void) | undefined;
  const onAbort = () => rejectWait?.(reason());
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (signal.aborted) throw reason();
      const next = await new Promise<IteratorResult<T>>((resolve, reject) => {
        rejectWait = reject;
        it.next().then(resolve, reject);
      });
      rejectWait = undefined;
      if (next.done) return;
      yield next.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Resolves after `ms`, or rejects with the abort reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
