import { isCordonError } from '../../proto/runtime/CordonError.js';

/**
 * Runs `fn` again when it fails `transient` (a busy SQLite file, a
 * PostgreSQL serialization failure between replicas), up to `attempts`
 * times with a short, jittered backoff; any other failure, or the last
 * transient one, is thrown. Only for work that is safe to repeat whole:
 * `fn` must be one transaction or idempotent.
 */
export async function retryTransient<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await fn();
    } catch (err) {
      if (n >= attempts || !isCordonError(err, 'transient')) throw err;
      await new Promise((r) => setTimeout(r, 25 * 2 ** n * (0.5 + Math.random())));
    }
  }
}
