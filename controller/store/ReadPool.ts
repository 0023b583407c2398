import { Database } from './Database.js';
import { Store } from './Store.js';

/**
 * Read-only connections to the store's file, handed out round robin: each
 * connection runs one statement at a time, so a page that needs several
 * reads under load is served faster by a few of them in parallel (SQLite's
 * WAL lets readers run beside the writer). Each request should take one
 * Store from `next()` and do all its reads on it, so they see one file
 * state. An in-memory store has no second connection, and PostgreSQL's
 * store has a pool of its own: then the pool hands out the store itself.
 */
export class ReadPool {
  private turn = 0;

  private constructor(
    private readonly stores: readonly Store[],
    private readonly owned: boolean,
  ) {}

  static async open(store: Store, size: number): Promise<ReadPool> {
    const db = store.db;
    // PostgreSQL's pool already reads in parallel, beside the writers.
    if (!(db instanceof Database) || db.path === ':memory:' || size < 1) return new ReadPool([store], false);
    const stores: Store[] = [];
    try {
      for (let n = 0; n < size; n++) stores.push(new Store(await Database.openReader(db.path)));
    } catch (err) {
      await Promise.all(stores.map((s) => s.close()));
      throw err;
    }
    return new ReadPool(stores, true);
  }

  next(): Store {
    const s = this.stores[this.turn % this.stores.length]!;
    this.turn = (this.turn + 1) % this.stores.length;
    return s;
  }

  async close(): Promise<void> {
    if (this.owned) await Promise.all(this.stores.map((s) => s.close()));
  }
}
