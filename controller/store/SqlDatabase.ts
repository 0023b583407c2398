/**
 * What repositories and services need of a SQL database, whichever engine
 * holds it: SQLite (`Database`, the embedded default) or PostgreSQL
 * (`pg/PgDatabase`). Engine-specific things (SQLite's file path and
 * read-only second connection, PostgreSQL's pool) stay on the classes.
 *
 * SQL text is written once with `?` positional or `$name` named
 * parameters; each engine binds them its own way. The dialect of the text
 * itself is still the caller's concern (issue 15: the repositories write
 * SQLite's today).
 */

/** A value a column holds or a parameter carries. Dates are INTEGER epoch milliseconds; booleans are 0/1. */
export type SqlValue = string | number | null | Buffer;
/** Positional (`?`) or named (`$name`, keys include the `$`) parameters. */
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;
export type Row = Record<string, SqlValue>;

export interface RunResult {
  /** Rows the statement inserted, updated or deleted. */
  changes: number;
  /**
   * The id of the last row inserted. SQLite knows it for any INSERT into a
   * rowid table. PostgreSQL has no such thing: there it is the `id` column
   * of the statement's last returned row, so a statement whose caller reads
   * it must end in `RETURNING id` on PostgreSQL; reading it otherwise fails
   * with `unsupported` rather than return a made-up number. Not on SQLite:
   * its driver's run() leaves a RETURNING statement open (SQLITE_BUSY at
   * the next COMMIT), so the repositories add it for PostgreSQL only.
   */
  lastId: number;
}

export interface TransactionOptions {
  /**
   * PostgreSQL only, outermost transactions only: READ COMMITTED instead of
   * SERIALIZABLE, so each statement sees what others committed before it
   * began. For work serialised by a lock taken inside the transaction (the
   * migrations' advisory lock): a SERIALIZABLE snapshot would be taken
   * before the lock was granted and miss the holder's commit. SQLite's one
   * writer needs no such thing and ignores it.
   */
  readCommitted?: boolean;
  /**
   * Reads only, for one consistent view of several statements (a host's
   * generation with its rows). PostgreSQL: READ ONLY, outermost ones hold
   * no write lock and do not queue behind this process's writing
   * transaction; a write inside fails. SQLite ignores it.
   */
  readOnly?: boolean;
}

/**
 * One database, shared by every repository of a store.
 *
 * Transactions: `transaction(fn)` commits when `fn` resolves and rolls back
 * and rethrows when it throws; a transaction inside a transaction is a
 * savepoint whose failure rolls back only its own work. Statements issued
 * from within `fn`'s async context, through this object or any repository
 * holding it, run inside the transaction. A statement that fails inside a
 * transaction undoes only itself: the transaction goes on.
 *
 * Rules for callers: await everything you start inside `fn`; don't await,
 * inside `fn`, a promise for database work begun outside it; don't call
 * `close()` inside a transaction.
 *
 * Errors are CordonErrors: a constraint violation (unique, foreign key,
 * CHECK, NOT NULL, the append-only triggers) is `conflict`; contention
 * (a busy file, a serialization failure, a lost connection) is `transient`
 * and worth retrying with backoff; anything else `internal`.
 */
export interface SqlDatabase {
  /** Which SQL the engine speaks, for the few statements that differ (sqlDialect.ts). */
  readonly dialect: 'sqlite' | 'postgresql';
  run(sql: string, params?: SqlParams): Promise<RunResult>;
  /** The first row, or undefined. The caller names the row's shape; nothing checks it. */
  get<T = Row>(sql: string, params?: SqlParams): Promise<T | undefined>;
  all<T = Row>(sql: string, params?: SqlParams): Promise<T[]>;
  /** Runs several `;`-separated statements without parameters (schema). */
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (db: SqlDatabase) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Whether the caller runs inside a transaction (its async context has one open). */
  readonly inTransaction: boolean;
  /**
   * A map for facts a repository learned inside the current transaction and
   * that hold until it ends: what a nested transaction adds reaches its
   * parent on release and is forgotten when it rolls back; everything is
   * forgotten when the outermost transaction ends. Undefined outside a
   * transaction. Keys are namespaced by the caller (`blob:…`).
   */
  memo(): Map<string, unknown> | undefined;
  /**
   * Calls `listener` after every commit made through this object that
   * changed rows: the outermost COMMIT of a transaction in which a `run`
   * changed something (a rolled-back savepoint's changes do not count), and
   * a `run` outside any transaction that changed rows. Read-only
   * transactions, `exec` and rollbacks call nothing. It runs synchronously
   * on the commit's path: cheap, and a throw is swallowed. Commits made by
   * other processes are not seen here.
   */
  onCommit(listener: () => void): void;
  /** Waits for running work, then closes. Later calls fail with `internal`. */
  close(): Promise<void>;
}

/**
 * The listeners of `onCommit`, for both engines: each is called in turn
 * after a commit, and a listener's throw is its own (the commit already
 * happened), so one bad listener neither stops the others nor the writer.
 */
export class CommitListeners {
  private readonly listeners: (() => void)[] = [];

  add(listener: () => void): void {
    this.listeners.push(listener);
  }

  fire(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        // Swallowed on purpose: see the class comment.
      }
    }
  }
}

/**
 * A transaction body and its end, for both engines: `end(true)` commits (or
 * releases the savepoint) after the body succeeds; when the body or the
 * commit fails, `end(false)` rolls back and the first error is the one thrown.
 */
export async function runThenEnd<T>(body: () => Promise<T>, end: (ok: boolean) => Promise<void>): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (err) {
    await end(false);
    throw err;
  }
  try {
    await end(true);
  } catch (err) {
    await end(false);
    throw err;
  }
  return result;
}
