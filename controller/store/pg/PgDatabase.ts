import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { Mutex } from '../../../proto/runtime/Mutex.js';
import { CommitListeners, runThenEnd, type Row, type RunResult, type SqlDatabase, type SqlParams, type TransactionOptions } from '../SqlDatabase.js';
import { summary, toCordonError } from './pgError.js';
import { numberPlaceholders } from './placeholders.js';
import { typeParsers } from './typeParsers.js';

/**
 * Who may use which connection now. The root scope is the pool: a
 * statement there checks out any idle connection. Every transaction opens
 * a child scope holding the one connection it checked out; a statement
 * takes the lock of the innermost scope still open in its async context,
 * so statements issued inside a transaction run on its connection, one at
 * a time, and a nested transaction (a savepoint) holds its parent's lock.
 */
interface Scope {
  readonly lock: Mutex;
  readonly client: pg.PoolClient | undefined;
  readonly parent: Scope | undefined;
  readonly depth: number;
  open: boolean;
  memo: Map<string, unknown> | undefined;
  wrote: boolean;
  /** The run of the outermost transaction this scope belongs to; undefined at the root. */
  readonly run: Run | undefined;
  /** A statement of this scope failed without a savepoint of its own: PostgreSQL refuses everything in it until it rolls back. */
  failed: boolean;
}

/** One run of an outermost transaction. */
interface Run {
  /** Each statement in a savepoint of its own (SQLite's semantics at three round trips each), or none. */
  readonly savepoints: boolean;
  /** A failed statement was caught and the transaction went on: only a run with savepoints gives SQLite's outcome. */
  mustRerun: boolean;
}

/** Thrown where a statement meets a transaction that a caught failure left unusable; the transaction runs again with savepoints. */
class NeedsSavepoints extends CordonError {
  constructor(sql: string) {
    super('internal', `a statement after a failed one in the same transaction; it runs again with a savepoint per statement (${summary(sql)})`);
  }
}

export interface PgDatabaseOptions {
  /** Connections in the pool (default 10): one per open transaction, the rest for statements outside any. */
  maxConnections?: number;
  /**
   * A table every outermost transaction (but READ COMMITTED ones, which
   * lock for themselves, and read-only ones) holds in SHARE ROW EXCLUSIVE
   * mode from its first statement (Store: `write_lock`, an empty table), so
   * write transactions run one at a time across all replicas, as they run
   * one at a time on SQLite's one file. LOCK TABLE takes no snapshot: the
   * transaction's snapshot is taken after the lock is granted and sees its
   * previous holder's commit.
   *
   * Why: nearly every write transaction appends to the audit chain after
   * reading its newest row. Replicas writing at once raced for that row and
   * all but one lost; rerun freely, the losers lost again until they gave
   * up (1,445 lost races and 56 agent reports dropped in one 1,000-host
   * mass action across three replicas); taking a lock only on a rerun
   * deadlocked against first runs holding row locks while they waited for
   * it (a 1,000-host approval failed nine times in a row). Taken first by
   * every transaction, the lock orders them all.
   */
  writeLock?: string;
}

/**
 * SqlDatabase on PostgreSQL, over an npm `pg` Pool.
 *
 * Isolation: every connection runs SERIALIZABLE (default_transaction_isolation,
 * so statements outside a transaction too). The repositories were written
 * for SQLite, where a transaction never sees another writer; SERIALIZABLE is
 * the one level that keeps their read-then-write transactions correct
 * without reviewing each for row locks: the outcome is that of some serial
 * order, or a transaction fails with 40001. Such a loser runs again by
 * itself (`transaction`, and statements outside any), and fails
 * `transient` only after SERIALIZATION_TRIES runs.
 *
 * In this process, outermost transactions run one at a time, as SQLite's
 * single writer does: a replica never fails against itself, and the
 * contract suite holds on both engines. Across processes (replicas) the
 * `writeLock` table orders them too. Serialization failures then come from
 * statements outside any transaction that touched the same rows; such
 * statements do not wait for a transaction here (they take another pooled
 * connection) and take no lock.
 *
 * A failed statement inside a transaction undoes only itself, as in SQLite,
 * where PostgreSQL would refuse every later statement of the transaction.
 * A savepoint around each statement gives SQLite's behaviour but costs two
 * more round trips per statement (20,000 of the 41,000 statements of a
 * 1,000-host mass action). So a transaction first runs without them; the
 * run stands when no statement fails, or when the failure ends it (`fn`
 * rethrows, as almost every caller does: the outcome is the same). Only
 * when `fn` catches a failure and goes on is that run rolled back and the
 * transaction run again from the start with a savepoint per statement,
 * which is safe for the reason a lost race's rerun is.
 */
export class PgDatabase implements SqlDatabase {
  readonly dialect = 'postgresql' as const;
  private readonly root: Scope = { lock: new Mutex(), client: undefined, parent: undefined, depth: 0, open: true, memo: undefined, wrote: false, run: undefined, failed: false };
  /** Outermost transactions run again with a savepoint per statement because one caught a failed statement (for tests). */
  savepointReruns = 0;
  private readonly scopes = new AsyncLocalStorage<Scope>();
  private readonly commits = new CommitListeners();
  /** Statements outside any transaction still running, which close() waits for. */
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly writeLock: string | undefined,
  ) {
    // An idle connection that breaks (server restart, terminated backend) is
    // dropped by the pool; the next statement gets a fresh one or a
    // `transient` error. Without a listener the 'error' event would crash the process.
    pool.on('error', () => undefined);
  }

  /**
   * Connects to `url` (postgres://…, a Unix socket via `?host=/dir`) and
   * checks the server answers. Applies no migrations (not yet written for
   * PostgreSQL). Fails `transient` when the server cannot be reached.
   */
  static async open(url: string, options: PgDatabaseOptions = {}): Promise<PgDatabase> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      options: '-c default_transaction_isolation=serializable',
      types: typeParsers,
    });
    if (options.writeLock !== undefined && !/^[a-z_][a-z0-9_]*$/.test(options.writeLock)) {
      await pool.end();
      throw new CordonError('invalid', `writeLock: "${options.writeLock}" is not a plain table name`);
    }
    const db = new PgDatabase(pool, options.writeLock);
    try {
      await db.get('SELECT 1');
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return db;
  }

  async run(sql: string, params: SqlParams = []): Promise<RunResult> {
    const scope = this.currentScope();
    const result = await this.query(scope, sql, params);
    const changes = result.rowCount ?? 0;
    if (changes > 0) {
      // Outside a transaction the statement is its own commit; inside, the outermost COMMIT announces it.
      if (scope.depth === 0) this.committed();
      else scope.wrote = true;
    }
    return runResult(changes, result, sql);
  }

  async get<T = Row>(sql: string, params: SqlParams = []): Promise<T | undefined> {
    return (await this.rows<T>(sql, params))[0];
  }

  async all<T = Row>(sql: string, params: SqlParams = []): Promise<T[]> {
    return this.rows<T>(sql, params);
  }

  /** A read, or a write that returns rows (INSERT … RETURNING): that one is a change like `run`'s. */
  private async rows<T>(sql: string, params: SqlParams): Promise<T[]> {
    const scope = this.currentScope();
    const result = await this.query(scope, sql, params);
    if (WRITES.has(result.command) && (result.rowCount ?? 0) > 0) {
      if (scope.depth === 0) this.committed();
      else scope.wrote = true;
    }
    return result.rows as T[];
  }

  /**
   * Several `;`-separated statements, sent as one simple query. Outside a
   * transaction PostgreSQL runs them as one implicit transaction: all or
   * none (SQLite's exec stops at the first failure, keeping the earlier ones).
   */
  async exec(sql: string): Promise<void> {
    await this.send(this.currentScope(), sql, undefined);
  }

  get inTransaction(): boolean {
    return this.currentScope() !== this.root;
  }

  memo(): Map<string, unknown> | undefined {
    const scope = this.currentScope();
    if (scope === this.root) return undefined;
    return (scope.memo ??= new Map());
  }

  onCommit(listener: () => void): void {
    this.commits.add(listener);
  }

  /**
   * Runs `fn` in a transaction: the outermost checks out one connection for
   * its whole life and runs BEGIN (SERIALIZABLE, see the class); nested ones
   * are savepoints on it. Commits when `fn` resolves, rolls back and
   * rethrows when it throws.
   *
   * An outermost transaction that loses a race with another replica (a
   * serialization failure or a deadlock, which PostgreSQL reports so the
   * loser runs again) is run again from the start, up to SERIALIZATION_TRIES
   * times with a short jittered pause: `fn` must do database work only, as
   * every transaction body in Cordon does (what follows a commit, a push or
   * a mail, runs after it). Every run holds the `writeLock` table (see
   * PgDatabaseOptions), so races are lost only to statements outside
   * transactions. SQLite's single writer never needs this.
   */
  async transaction<T>(fn: (db: SqlDatabase) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (this.currentScope() !== this.root) return this.once(fn, options, undefined);
    let savepoints = false;
    for (let attempt = 1; ; attempt++) {
      const run: Run = { savepoints, mustRerun: false };
      try {
        return await this.once(fn, options, run);
      } catch (err) {
        if (run.mustRerun && !savepoints) {
          savepoints = true;
          this.savepointReruns++;
          attempt--;
          continue;
        }
        if (attempt >= SERIALIZATION_TRIES || !lostRace(err)) throw err;
        await new Promise((r) => setTimeout(r, 5 * 2 ** attempt * (0.5 + Math.random())));
      }
    }
  }

  /** One run of a transaction: `run` for an outermost one, undefined for a nested one (a savepoint in its parent's run). */
  private once<T>(fn: (db: SqlDatabase) => Promise<T>, options: TransactionOptions, outerRun: Run | undefined): Promise<T> {
    const scope = this.currentScope();
    // A reader needs no turn: it runs beside this process's writer, on a connection of its own.
    const readOnly = scope.depth === 0 && options.readOnly === true && !options.readCommitted;
    const turn = readOnly ? this.tracked.bind(this) : scope.lock.lock.bind(scope.lock);
    return turn(async () => {
      this.assertOpen('BEGIN');
      const outermost = scope.depth === 0;
      const run = outermost ? outerRun! : scope.run!;
      const name = `cordon_sp${scope.depth + 1}`;
      if (!outermost && unusable(scope)) {
        run.mustRerun = true;
        throw new NeedsSavepoints(`SAVEPOINT ${name}`);
      }
      const client = outermost ? await this.checkout('BEGIN') : scope.client!;
      const child: Scope = { lock: new Mutex(), client, parent: scope, depth: scope.depth + 1, open: true, memo: undefined, wrote: false, run, failed: false };
      let broken: Error | undefined;
      try {
        await direct(client, !outermost ? `SAVEPOINT ${name}` : options.readCommitted ? 'BEGIN ISOLATION LEVEL READ COMMITTED' : readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
        // Before any other statement: the snapshot is taken once the lock is held. READ COMMITTED work
        // (the migrations) takes a lock of its own, and may create the table.
        if (outermost && !readOnly && !options.readCommitted && this.writeLock) await direct(client, `LOCK TABLE ${this.writeLock} IN SHARE ROW EXCLUSIVE MODE`);
      } catch (err) {
        if (outermost) client.release(err as Error);
        throw err;
      }
      const end = async (ok: boolean) => {
        child.open = false;
        // Let statements `fn` started but did not await finish before ending.
        await child.lock.lock(async () => undefined);
        if (ok && (child.failed || (outermost && run.mustRerun))) {
          // `fn` caught a failed statement and resolved: PostgreSQL would refuse the COMMIT (or RELEASE).
          run.mustRerun = true;
          throw new NeedsSavepoints(outermost ? 'COMMIT' : `RELEASE ${name}`);
        }
        if (ok) {
          await direct(client, outermost ? 'COMMIT' : `RELEASE ${name}`);
          if (outermost) {
            if (child.wrote) this.committed();
            return;
          }
          if (child.memo) for (const [k, v] of child.memo) (scope.memo ??= new Map()).set(k, v);
          if (child.wrote) scope.wrote = true;
          return;
        }
        // A failed ROLLBACK means the connection is gone (the server then
        // rolls back itself); the error worth reporting is the one that got us here.
        await direct(client, outermost ? 'ROLLBACK' : `ROLLBACK TO ${name}; RELEASE ${name}`).catch((err: Error) => (broken = err));
      };
      try {
        return await runThenEnd(() => this.scopes.run(child, () => fn(this)), end);
      } catch (err) {
        // Whatever `fn` made of the failure, the run is rolled back and runs again (transaction()).
        if (outermost && run.mustRerun) throw new NeedsSavepoints('ROLLBACK');
        throw err;
      } finally {
        // A connection whose ROLLBACK failed is destroyed, not handed to the next caller.
        if (outermost) client.release(broken);
      }
    });
  }

  /** Runs `fn` now, as one of the things close() waits for. */
  private tracked<T>(fn: () => Promise<T>): Promise<T> {
    const work = fn();
    this.running.add(work);
    void work.finally(() => this.running.delete(work)).catch(() => undefined);
    return work;
  }

  /** Waits for running transactions and statements, then closes the pool. */
  close(): Promise<void> {
    return this.root.lock.lock(async () => {
      if (this.closed) return;
      this.closed = true;
      await Promise.allSettled([...this.running]);
      await this.pool.end();
    });
  }

  /** `sql` with its parameters numbered for PostgreSQL, in `scope`. */
  private query(scope: Scope, sql: string, params: SqlParams): Promise<pg.QueryResult> {
    const { text, values } = numberPlaceholders(sql, params);
    return this.send(scope, text, values, sql);
  }

  /**
   * Outside a transaction: on any pooled connection, at once. Inside: on the
   * transaction's connection, after the scope's earlier statements, within
   * a savepoint of its own so a failure leaves the transaction usable.
   */
  private send(scope: Scope, text: string, values: unknown[] | undefined, sql = text): Promise<pg.QueryResult> {
    this.assertOpen(sql);
    if (scope.client === undefined) {
      const once = async () => {
        const client = await this.checkout(sql);
        let broken: Error | undefined;
        try {
          return await client.query(text, values);
        } catch (err) {
          if (!(err instanceof pg.DatabaseError)) broken = err as Error;
          throw toCordonError(err, sql);
        } finally {
          client.release(broken);
        }
      };
      // A statement outside any transaction is a transaction of its own: one that lost a race had no
      // effect and runs again, as an outermost transaction does (a mail marked sent must not stay unmarked).
      const work = (async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await once();
          } catch (err) {
            if (attempt >= SERIALIZATION_TRIES || !lostRace(err)) throw err;
            await new Promise((r) => setTimeout(r, 5 * 2 ** attempt * (0.5 + Math.random())));
          }
        }
      })();
      return this.tracked(() => work);
    }
    const client = scope.client;
    const run = scope.run!;
    return scope.lock.lock(async () => {
      this.assertOpen(sql);
      if (!run.savepoints) {
        if (unusable(scope)) {
          run.mustRerun = true;
          throw new NeedsSavepoints(sql);
        }
        try {
          return await client.query(text, values);
        } catch (err) {
          scope.failed = true;
          throw toCordonError(err, sql);
        }
      }
      await direct(client, 'SAVEPOINT cordon_stmt');
      try {
        const result = await client.query(text, values);
        await direct(client, 'RELEASE cordon_stmt');
        return result;
      } catch (err) {
        await direct(client, 'ROLLBACK TO cordon_stmt; RELEASE cordon_stmt').catch(() => undefined);
        throw toCordonError(err, sql);
      }
    });
  }

  /** A pooled connection, with an 'error' listener while it is out (pg emits 'error' on a checked-out client whose socket dies). */
  private async checkout(sql: string): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw toCordonError(err, sql);
    }
    const onError = () => undefined; // the next query on it fails, and that failure is reported
    client.on('error', onError);
    const release = client.release.bind(client);
    client.release = (err?: Error | boolean) => {
      client.removeListener('error', onError);
      client.release = release;
      release(err);
    };
    return client;
  }

  private committed(): void {
    this.commits.fire();
  }

  private currentScope(): Scope {
    let scope = this.scopes.getStore() ?? this.root;
    // A straggler from a finished transaction belongs to the enclosing one.
    while (!scope.open && scope.parent) scope = scope.parent;
    return scope;
  }

  private assertOpen(sql: string): void {
    if (this.closed) throw new CordonError('internal', `the PostgreSQL database is closed (${summary(sql)})`);
  }
}

const WRITES = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/** Whether a failed statement left `scope`'s transaction refusing statements: it failed in `scope` or an enclosing scope still open. */
function unusable(scope: Scope): boolean {
  for (let s: Scope | undefined = scope; s && s.depth > 0; s = s.parent) if (s.failed) return true;
  return false;
}

/** Runs of an outermost transaction that lost a race, before its failure is the caller's. */
const SERIALIZATION_TRIES = 6;

/** A serialization failure or a deadlock: another transaction won, this one may simply run again. */
function lostRace(err: unknown): boolean {
  const code = ((err as { cause?: { code?: unknown } } | null)?.cause as { code?: unknown } | undefined)?.code;
  return code === '40001' || code === '40P01';
}

/** Transaction control on a connection the caller already holds. */
async function direct(client: pg.PoolClient, sql: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (err) {
    throw toCordonError(err, sql);
  }
}

/**
 * `changes`, and `lastId` only where PostgreSQL returned one: the `id` of
 * the last row of a `RETURNING id`. Otherwise reading lastId fails loudly
 * (see RunResult) instead of returning a number that means nothing.
 */
function runResult(changes: number, result: pg.QueryResult, sql: string): RunResult {
  const last = result.rows.at(-1) as Row | undefined;
  const id = last?.id;
  if (typeof id === 'number') return { changes, lastId: id };
  const out = { changes } as RunResult;
  Object.defineProperty(out, 'lastId', {
    enumerable: false,
    get() {
      throw new CordonError('unsupported', `PostgreSQL has no last insert id: end the statement with RETURNING id (${summary(sql)})`);
    },
  });
  return out;
}
