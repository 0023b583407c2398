/**
 * A FIFO lock for async work: `lock(fn)` runs `fn` once every earlier holder
 * has settled, and resolves or rejects with `fn`'s own result. A holder that
 * throws releases the lock like one that returns.
 *
 * Not re-entrant: calling `lock` from inside `fn` on the same Mutex waits
 * forever. Database avoids that by giving every transaction its own Mutex.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  lock<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
