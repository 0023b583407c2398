import { AsyncLocalStorage } from 'node:async_hooks';
import sqlite3 from 'sqlite3';
import { CordonError, type ErrorKind } from '../../proto/runtime/CordonError.js';
import { migrate } from './migrate.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { Mutex } from '../../proto/runtime/Mutex.js';

import { CommitListeners, runThenEnd, type Row, type RunResult, type SqlDatabase, type SqlParams, type TransactionOptions } from './SqlDatabase.js';

// The value types moved to SqlDatabase (shared by both engines); re-exported for existing imports.
export type { Row, RunResult, SqlParams, SqlValue } from './SqlDatabase.js';

/**
 * Who may talk to the connection now. The root scope is the whole database;
 * every transaction opens a child scope. A statement takes the lock of the
 * innermost scope still open in its async context, so statements issued
 * inside a transaction run in it, and everything else waits for it to end.
 */
interface Scope {
  readonly lock: Mutex;
  readonly parent: Scope | undefined;
  readonly depth: number;
  open: boolean;
  /** Facts a repository learned inside this transaction (see `memo`); dropped on rollback, handed up on release. */
  memo: Map<string, unknown> | undefined;
  /** A `run` in this scope changed rows; handed up on release, dropped on rollback, announced at the outermost commit. */
  wrote: boolean;
}

/** Prepared statements kept for reuse; beyond this many, the least recently used is finalized. */
const STATEMENT_CACHE_SIZE = 200;

/**
 * SqlDatabase on SQLite: a promise wrapper over one sqlite3 connection.
 *
 * node-sqlite3 multiplexes every caller onto that one connection, so a
 * `BEGIN` from one caller would silently swallow another caller's writes.
 * Here every statement and transaction is serialised: `transaction(fn)` holds
 * the database until `fn` settles; statements issued from within `fn` (through
 * this object or any repository holding it; AsyncLocalStorage tells them
 * apart) run inside the transaction, all others wait their turn. A
 * `transaction` inside a transaction becomes a SAVEPOINT: its failure rolls
 * back only its own work.
 *
 * Rules for callers: await everything you start inside `fn`; don't await,
 * inside `fn`, a promise for database work begun outside it (it waits for
 * `fn`: deadlock); don't call `close()` inside a transaction.
 *
 * SQLite errors become CordonErrors: constraint violations (unique, foreign
 * key, CHECK, the append-only triggers) `conflict`, busy or locked
 * `transient`, everything else `internal`.
 */
export class Database implements SqlDatabase {
  readonly dialect = 'sqlite' as const;
  private readonly root: Scope = { lock: new Mutex(), parent: undefined, depth: 0, open: true, memo: undefined, wrote: false };
  private readonly scopes = new AsyncLocalStorage<Scope>();
  /** SQL text → its prepared statement, in least-recently-used order (a Map keeps insertion order). */
  private readonly statements = new Map<string, sqlite3.Statement>();
  private readonly commits = new CommitListeners();
  private closed = false;

  private constructor(
    private readonly handle: sqlite3.Database,
    /** The file, or ':memory:'. */
    readonly path: string,
  ) {}

  /**
   * Opens (creating if needed) the database file, sets WAL, foreign keys,
   * a 5 s busy timeout and synchronous=FULL, then applies pending
   * migrations. Fails with `unsupported` when SQLite cannot honour WAL or
   * foreign keys, rather than run without them.
   *
   * FULL, not NORMAL: in WAL mode NORMAL skips the fsync at COMMIT, so a
   * committed transaction survives a crash of the process but a power loss
   * or kernel crash may take the last commits back (never corrupting the
   * file). FULL fsyncs the WAL at every COMMIT: when a transaction's promise
   * resolves, it is on disk. That costs one fsync per commit, which intake
   * amortises by committing a report's complaints in chunks (IncidentService).
   */
  static async open(path: string, migrations: readonly Migration[] = MIGRATIONS): Promise<Database> {
    const handle = await new Promise<sqlite3.Database>((resolve, reject) => {
      const h = new sqlite3.Database(path, (err) =>
        err ? reject(new CordonError('invalid', `cannot open ${path}: ${err.message}`, { cause: err })) : resolve(h),
      );
    });
    const db = new Database(handle, path);
    try {
      const mode = await db.get<{ journal_mode: string }>('PRAGMA journal_mode = WAL');
      const expected = path === ':memory:' ? 'memory' : 'wal';
      if (mode?.journal_mode !== expected) {
        throw new CordonError('unsupported', `${path}: SQLite runs in journal mode ${mode?.journal_mode}, not WAL; use a local filesystem`);
      }
      await db.exec('PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL;');
      const fk = await db.get<{ foreign_keys: number }>('PRAGMA foreign_keys');
      if (fk?.foreign_keys !== 1) throw new CordonError('unsupported', 'this SQLite build does not enforce foreign keys');
      await migrate(db, migrations);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return db;
  }

  /**
   * A second, read-only connection to a store file that `open` already
   * migrated. In WAL mode it reads the last committed state while the
   * writer works, so hot read paths (the customer page) neither wait behind
   * the writer's queue nor hold it up. Never migrates; any write fails.
   */
  static async openReader(path: string): Promise<Database> {
    if (path === ':memory:') throw new CordonError('invalid', 'an in-memory database has no second connection', { field: 'path' });
    const handle = await new Promise<sqlite3.Database>((resolve, reject) => {
      const h = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (err) =>
        err ? reject(new CordonError('invalid', `cannot open ${path} for reading: ${err.message}`, { cause: err })) : resolve(h),
      );
    });
    const db = new Database(handle, path);
    try {
      await db.exec('PRAGMA busy_timeout = 5000; PRAGMA query_only = 1;');
      const mode = await db.get<{ journal_mode: string }>('PRAGMA journal_mode');
      if (mode?.journal_mode !== 'wal') throw new CordonError('unsupported', `${path}: a reader needs WAL, the file is in ${mode?.journal_mode}`);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return db;
  }

  /** A private in-memory database, migrated: for unit tests of code above the store. */
  static openMemory(): Promise<Database> {
    return Database.open(':memory:');
  }

  /**
   * Statements are prepared once per SQL text and reused (up to
   * STATEMENT_CACHE_SIZE texts), so pass values as parameters, never spliced
   * into the text.
   */
  run(sql: string, params: SqlParams = []): Promise<RunResult> {
    const scope = this.currentScope();
    const db = this; // node-sqlite3 hands the statement's counts to `this` of a classic function
    return scope.lock.lock(() =>
      this.prepared<RunResult>(sql, (statement, done) =>
        statement.run(params, function (this: sqlite3.RunResult, err: Error | null) {
          if (!err && this.changes > 0) {
            // Outside a transaction the statement is its own commit; inside, the outermost COMMIT announces it.
            if (scope.depth === 0) db.committed();
            else scope.wrote = true;
          }
          done(err, { changes: this.changes, lastId: this.lastID });
        }),
      ),
    );
  }

  /**
   * Calls `listener` after every commit that changed rows: the outermost
   * COMMIT of a transaction in which a `run` changed something (a rolled-back
   * savepoint's changes do not count), and a `run` outside any transaction
   * that changed rows. Read-only transactions, `exec` (schema, pragmas) and
   * rollbacks call nothing. The listener runs synchronously on the commit's
   * path, so it must be cheap and not throw (a throw is swallowed): it is for
   * "something changed" signals such as the desk's live updates, not work.
   */
  onCommit(listener: () => void): void {
    this.commits.add(listener);
  }

  /** The first row, or undefined. The caller names the row's shape; nothing checks it. */
  get<T = Row>(sql: string, params: SqlParams = []): Promise<T | undefined> {
    return this.inScope(() =>
      this.prepared<T | undefined>(sql, (statement, done) => {
        // A statement stepped once but not to its end keeps a read open: reset it before anyone goes on.
        statement.get(params, (err: Error | null, row: T | undefined) => (err ? done(err, undefined) : statement.reset(() => done(null, row))));
      }),
    );
  }

  all<T = Row>(sql: string, params: SqlParams = []): Promise<T[]> {
    return this.inScope(() => this.prepared<T[]>(sql, (statement, done) => statement.all(params, (err: Error | null, rows: T[]) => done(err, rows))));
  }

  /** Runs several `;`-separated statements without parameters (schema, pragmas). */
  exec(sql: string): Promise<void> {
    return this.inScope(() => this.call<void>(sql, (done) => this.handle.exec(sql, (err: Error | null) => done(err, undefined))));
  }

  /** Whether the caller runs inside a transaction (its async context has one open). */
  get inTransaction(): boolean {
    return this.currentScope() !== this.root;
  }

  /**
   * A map for facts a repository learned inside the current transaction
   * and that hold until it ends (e.g. "this blob is stored"): what a nested
   * transaction adds reaches its parent on release and is forgotten when it
   * rolls back, and everything is forgotten at the outermost commit or
   * rollback. Undefined outside a transaction. Keys are namespaced by the
   * caller (`blob:…`).
   */
  memo(): Map<string, unknown> | undefined {
    const scope = this.currentScope();
    if (scope === this.root) return undefined;
    return (scope.memo ??= new Map());
  }

  /**
   * Runs `fn` in a transaction (BEGIN IMMEDIATE: the write lock is taken at
   * once, so two processes fail fast or wait busy_timeout instead of
   * deadlocking on upgrade). Commits when `fn` resolves, rolls back and
   * rethrows when it throws. Nested calls use savepoints.
   */
  transaction<T>(fn: (db: Database) => Promise<T>, _options?: TransactionOptions): Promise<T> {
    const scope = this.currentScope();
    return scope.lock.lock(async () => {
      this.assertOpen('BEGIN');
      const child: Scope = { lock: new Mutex(), parent: scope, depth: scope.depth + 1, open: true, memo: undefined, wrote: false };
      const outermost = child.depth === 1;
      const name = `cordon_sp${child.depth}`;
      await this.direct(outermost ? 'BEGIN IMMEDIATE' : `SAVEPOINT ${name}`);
      const end = async (ok: boolean) => {
        child.open = false;
        // Let statements `fn` started but did not await finish before ending.
        await child.lock.lock(async () => undefined);
        if (ok) {
          await this.direct(outermost ? 'COMMIT' : `RELEASE ${name}`);
          if (outermost) {
            if (child.wrote) this.committed();
            return;
          }
          if (child.memo) for (const [k, v] of child.memo) (scope.memo ??= new Map()).set(k, v);
          if (child.wrote) scope.wrote = true;
          return;
        }
        // A failed ROLLBACK means SQLite already rolled back (e.g. after a disk
        // full error); the error worth reporting is the one that got us here.
        await this.direct(outermost ? 'ROLLBACK' : `ROLLBACK TO ${name}; RELEASE ${name}`).catch(() => undefined);
      };
      return runThenEnd(() => this.scopes.run(child, () => fn(this)), end);
    });
  }

  /** Waits for running work, then closes. Later calls fail with `internal`. */
  close(): Promise<void> {
    return this.root.lock.lock(async () => {
      if (this.closed) return;
      this.closed = true;
      const statements = [...this.statements.values()];
      this.statements.clear();
      await Promise.all(statements.map((st) => new Promise<void>((resolve) => st.finalize(() => resolve()))));
      await new Promise<void>((resolve, reject) => this.handle.close((err) => (err ? reject(toCordonError(err, 'close')) : resolve())));
    });
  }

  /** Runs `send` with the prepared statement for `sql`, from the cache or prepared now (a failed prepare is the call's error). */
  private async prepared<T>(sql: string, send: (statement: sqlite3.Statement, done: (err: Error | null, value: T) => void) => void): Promise<T> {
    this.assertOpen(sql);
    let statement = this.statements.get(sql);
    if (statement) {
      this.statements.delete(sql); // re-inserted below: most recently used last
    } else {
      statement = await new Promise<sqlite3.Statement>((resolve, reject) => {
        const st: sqlite3.Statement = this.handle.prepare(sql, (err: Error | null) => (err ? reject(toCordonError(err, sql)) : resolve(st)));
      });
      if (this.statements.size >= STATEMENT_CACHE_SIZE) {
        const [oldest, old] = this.statements.entries().next().value as [string, sqlite3.Statement];
        this.statements.delete(oldest);
        old.finalize();
      }
    }
    this.statements.set(sql, statement);
    return this.call<T>(sql, (done) => send(statement, done));
  }

  /** Drops a statement whose call failed: a failed prepare must not be reused, and a reused one starts clean. */
  private forget(sql: string): void {
    const statement = this.statements.get(sql);
    if (!statement) return;
    this.statements.delete(sql);
    statement.finalize();
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

  private inScope<T>(fn: () => Promise<T>): Promise<T> {
    return this.currentScope().lock.lock(fn);
  }

  /** A statement sent by the transaction machinery itself, which already holds the lock. */
  private direct(sql: string): Promise<void> {
    return this.call<void>(sql, (done) => this.handle.exec(sql, (err: Error | null) => done(err, undefined)));
  }

  private call<T>(sql: string, send: (done: (err: Error | null, value: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.assertOpen(sql);
      send((err, value) => {
        if (!err) return resolve(value);
        this.forget(sql);
        reject(toCordonError(err, sql));
      });
    });
  }

  private assertOpen(sql: string): void {
    if (this.closed) throw new CordonError('internal', `the database ${this.path} is closed (${summary(sql)})`);
  }
}

function kindOf(code: string | undefined): ErrorKind {
  switch (code) {
    case 'SQLITE_CONSTRAINT':
      return 'conflict';
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return 'transient';
    default:
      return 'internal';
  }
}

function toCordonError(err: Error & { code?: string }, sql: string): CordonError {
  return new CordonError(kindOf(err.code), `${err.message} (in ${summary(sql)})`, { cause: err });
}

function summary(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}
