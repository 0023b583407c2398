import { CordonError } from './CordonError.js';

/**
 * Iterates `source` until it ends or `signal` aborts; on abort the loop
 * throws the abort reason instead of waiting for the next message forever.
 * The source's iterator is not returned early: for a gRPC stream that would
 * destroy the call, and the caller ends the call itself.
 *
 * Each wait races the next message against its own abort listener, removed
 * once the message is in. Racing every message against one long-lived
 * "aborted" promise would leave a reaction on it per message, each holding
 * that message, for as long as the stream lives (an agent stream lives for
 * weeks: ~350 bytes per heartbeat, measured in test/bench/fleet.mjs).
 */
export async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const reason = () => signal.reason ?? new CordonError('transient', 'aborted');
  for (;;) {
    if (signal.aborted) throw reason();
    let onAbort: () => void = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(reason());
      signal.addEventListener('abort', onAbort, { once: true });
    });
    let next: IteratorResult<T>;
    try {
      next = await Promise.race([it.next(), aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (next.done) return;
    yield next.value;
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
