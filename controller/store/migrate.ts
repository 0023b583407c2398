import { createHash } from 'node:crypto';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Database } from './Database.js';
import type { Migration } from './migrations.js';

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
export async function migrate(db: Database, migrations: readonly Migration[]): Promise<number[]> {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new CordonError('internal', `migration ${m.name} has version ${m.version}, expected ${i + 1}`);
  });
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
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
      // Re-read inside the write lock: another process may have migrated meanwhile.
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
    });
    if (ran) done.push(m.version);
  }
  return done;
}
