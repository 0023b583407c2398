import { createHash } from 'node:crypto';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Migration } from './migrations.js';
import type { SqlDatabase } from './SqlDatabase.js';

const checksum = (m: Migration) => createHash('sha256').update(m.sql).digest('hex');

/**
 * Brings the schema up to the last of `migrations`, each pending one in its
 * own transaction together with its `schema_migrations` row, so a crash
 * leaves each migration applied or not, never half. Idempotent: applied
 * migrations are skipped. Returns the versions applied now.
 *
 * Refuses to start (and changes nothing) when the list is not 1, 2, 3…
 * (`internal`), when an applied migration's name or text differs from this
 * build's (`conflict`: someone edited a shipped migration), or when the
 * database is newer than this build (`unsupported`: a downgrade).
 */
export async function migrate(db: SqlDatabase, migrations: readonly Migration[]): Promise<number[]> {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new CordonError('internal', `migration ${m.name} has version ${m.version}, expected ${i + 1}`);
  });
  await db.transaction(async () => {
    await lockSchema(db);
    await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    ${db.dialect === 'sqlite' ? 'INTEGER' : 'BIGINT'} PRIMARY KEY,
      name       TEXT NOT NULL,
      checksum   TEXT NOT NULL,
      applied_at ${db.dialect === 'sqlite' ? 'INTEGER' : 'BIGINT'} NOT NULL
    )${db.dialect === 'sqlite' ? ' STRICT' : ''}`);
  }, LOCKED);
  const applied = await db.all<{ version: number; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
  );
  const newest = applied.at(-1)?.version ?? 0;
  if (newest > migrations.length) {
    throw new CordonError(
      'unsupported',
      `the database is at schema version ${newest}, newer than this build's ${migrations.length}: run a newer controller`,
    );
  }
  for (const row of applied) {
    const m = migrations[row.version - 1]!;
    if (m.name !== row.name || checksum(m) !== row.checksum) {
      throw new CordonError('conflict', `migration ${row.version} (${row.name}) differs from the one applied to this database: shipped migrations must not change`);
    }
  }
  const done: number[] = [];
  for (const m of migrations) {
    const ran = await db.transaction(async () => {
      await lockSchema(db);
      // Re-read inside the lock: another process (a replica) may have migrated meanwhile.
      if (await db.get('SELECT 1 FROM schema_migrations WHERE version = ?', [m.version])) return false;
      await db.exec(m.sql);
      // Wall-clock time on purpose: when this file was migrated, not a domain time.
      await db.run('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)', [
        m.version,
        m.name,
        checksum(m),
        Date.now(),
      ]);
      return true;
    }, LOCKED);
    if (ran) done.push(m.version);
  }
  return done;
}

/**
 * Migrations run one process at a time. SQLite's transaction already holds
 * the file's write lock once it writes. On PostgreSQL, replicas starting
 * together take a transaction-scoped advisory lock (released by COMMIT or
 * ROLLBACK, so a crashed replica never leaves it held, and a pooler in
 * transaction mode keeps it: it lives exactly as long as the transaction).
 */
async function lockSchema(db: SqlDatabase): Promise<void> {
  if (db.dialect === 'postgresql') await db.get('SELECT pg_advisory_xact_lock(?)', [SCHEMA_LOCK]);
}

/** Each statement after the lock sees what the lock's previous holder committed (see TransactionOptions). */
const LOCKED = { readCommitted: true };

/** The advisory lock key of Cordon's schema ('cordon' in ASCII). */
const SCHEMA_LOCK = 0x636f72646f6e;
