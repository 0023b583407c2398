import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ComplaintsRepo } from '../../../controller/store/ComplaintsRepo.js';
import { Database } from '../../../controller/store/Database.js';
import { migrate } from '../../../controller/store/migrate.js';
import { MIGRATIONS } from '../../../controller/store/migrations.js';
import { PG_MIGRATIONS } from '../../../controller/store/pg/pgMigrations.js';
import type { SqlDatabase } from '../../../controller/store/SqlDatabase.js';
import { sqlEngines } from '../../helpers/sqlEngines.js';

/** sqlEngines prints the SKIP line when PostgreSQL is missing, and gives a fresh database per open(). */
const postgresql = sqlEngines('pgMigrations.test.ts').find((e) => e.name === 'postgresql')!;

const ALL = PG_MIGRATIONS.map((m) => m.version);

/** SQLite at version n, as the controller opens it. */
async function sqliteAt(n: number): Promise<Database> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-pgmig-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const db = await Database.open(join(dir, 'cordon.db'), MIGRATIONS.slice(0, n));
  onTestFinished(() => db.close());
  return db;
}

async function postgresAt(n: number): Promise<SqlDatabase> {
  const db = await postgresql.open();
  await migrate(db, PG_MIGRATIONS.slice(0, n));
  return db;
}

const sorted = <T>(xs: T[]) => xs.map((x) => JSON.stringify(x)).sort();

interface Shape {
  columns: Record<string, { name: string; notNull: boolean; default: string | null }[]>;
  indexes: { table: string; name: string; unique: boolean; partial: boolean }[];
  foreignKeys: { table: string; from: string; to: string; onDelete: string }[];
  triggers: { table: string; name: string }[];
}

async function sqliteShape(db: Database): Promise<Shape> {
  const tables = await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  const shape: Shape = { columns: {}, indexes: [], foreignKeys: [], triggers: [] };
  for (const { name } of tables) {
    const cols = await db.all<{ name: string; notnull: number; pk: number; dflt_value: string | null }>(`PRAGMA table_info(${name})`);
    // An INTEGER PRIMARY KEY is the rowid: never NULL, though table_info says notnull 0.
    shape.columns[name] = cols.map((c) => ({ name: c.name, notNull: c.notnull === 1 || c.pk > 0, default: c.dflt_value }));
    const fks = await db.all<{ id: number; table: string; from: string; to: string; on_delete: string }>(`PRAGMA foreign_key_list(${name})`);
    for (const id of new Set(fks.map((f) => f.id))) {
      const parts = fks.filter((f) => f.id === id);
      shape.foreignKeys.push({ table: name, from: parts.map((f) => f.from).join(','), to: `${parts[0]!.table}(${parts.map((f) => f.to).join(',')})`, onDelete: parts[0]!.on_delete });
    }
  }
  const indexes = await db.all<{ name: string; tbl_name: string; sql: string }>(
    "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'",
  );
  shape.indexes = indexes.map((i) => ({ table: i.tbl_name, name: i.name, unique: /^CREATE UNIQUE/i.test(i.sql), partial: /\sWHERE\s/i.test(i.sql) }));
  shape.triggers = (await db.all<{ name: string; tbl_name: string }>("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")).map((t) => ({
    table: t.tbl_name,
    name: t.name,
  }));
  return shape;
}

const ON_DELETE: Record<string, string> = { a: 'NO ACTION', c: 'CASCADE', r: 'RESTRICT', n: 'SET NULL', d: 'SET DEFAULT' };

async function postgresShape(db: SqlDatabase): Promise<Shape> {
  const shape: Shape = { columns: {}, indexes: [], foreignKeys: [], triggers: [] };
  const cols = await db.all<{ table_name: string; column_name: string; is_nullable: string; column_default: string | null }>(
    `SELECT c.table_name, c.column_name, c.is_nullable, c.column_default FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
     WHERE c.table_schema = 'public' ORDER BY c.table_name, c.ordinal_position`,
  );
  for (const c of cols) {
    // '{}'::text is SQLite's '{}'.
    const dflt = c.column_default?.replace(/::[a-z ]+$/, '') ?? null;
    (shape.columns[c.table_name] ??= []).push({ name: c.column_name, notNull: c.is_nullable === 'NO', default: dflt });
  }
  // Indexes that back a PRIMARY KEY or UNIQUE constraint are SQLite's sqlite_autoindex_*: left out on both sides.
  // Only those: a foreign key's conindid is the index it references (incidents_id_host), which stays.
  const indexes = await db.all<{ table: string; name: string; unique: number; partial: number }>(
    `SELECT t.relname AS "table", i.relname AS name, x.indisunique AS "unique", x.indpred IS NOT NULL AS partial
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
     WHERE t.relnamespace = 'public'::regnamespace
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.contype IN ('p', 'u'))`,
  );
  shape.indexes = indexes.map((i) => ({ ...i, unique: i.unique === 1, partial: i.partial === 1 }));
  const fks = await db.all<{ table: string; from: string; ref: string; to: string; del: string }>(
    `SELECT c.conrelid::regclass::text AS "table", c.confrelid::regclass::text AS ref, c.confdeltype AS del,
       (SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS "from",
       (SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS "to"
     FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace`,
  );
  shape.foreignKeys = fks.map((f) => ({ table: f.table, from: f.from, to: `${f.ref}(${f.to})`, onDelete: ON_DELETE[f.del]! }));
  const triggers = await db.all<{ table: string; name: string }>(
    `SELECT t.relname AS "table", g.tgname AS name FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid
     WHERE NOT g.tgisinternal AND t.relnamespace = 'public'::regnamespace`,
  );
  // TRUNCATE bypasses row triggers; SQLite has no TRUNCATE, so those are PostgreSQL's own.
  shape.triggers = triggers.filter((t) => !t.name.endsWith('_no_truncate'));
  return shape;
}

const refused = (what: RegExp) => ({ kind: 'conflict', message: expect.stringMatching(what) });

/** One of each row the triggers guard, on a fully migrated database. */
async function seed(db: SqlDatabase): Promise<void> {
  await db.exec(`
    INSERT INTO hosts VALUES ('h1', 'c1', '192.0.2.1');
    INSERT INTO incidents (id, host_id, customer_id, category, state, trusted, opened_at, step, actions_json, complaint_count)
      VALUES ('i1', 'h1', 'c1', 'spam', 'notified', 1, 1000, 0, '[]', 1);
    INSERT INTO incident_events (incident_id, at, type, actor, detail_json) VALUES ('i1', 1000, 'opened', 'policy', '{}');
    INSERT INTO audit_log VALUES (1, 1000, 'policy', 'incident.open', 'i1', '{}', repeat('0', 64), repeat('a', 64));
    INSERT INTO blobs VALUES (repeat('b', 64), 'a large report');
    INSERT INTO complaints (id, received_at, ip, category, reporter, reporter_kind, raw, evidence, incident_id, status, raw_sha256, excerpt, reporter_id, fingerprint)
      VALUES ('k1', 1000, '192.0.2.1', 'spam', 'r@example.org', 'mail', '', 'ev', 'i1', 'linked', repeat('b', 64), 'x', 'r1', 'f1');
    INSERT INTO customer_messages (id, incident_id, at, channel, kind, answer, body, actor) VALUES ('m1', 'i1', 2000, 'page', 'answer', 'ack', 'ok', 'customer');
    INSERT INTO customer_files VALUES ('f1', 'm1', 'i1', 'log.txt', 'text/plain', 2, repeat('c', 64), decode('0a0b', 'hex'));
    INSERT INTO host_desired VALUES ('h1', 5, 1000);
  `);
}

/**
 * A complaint stored before migration 15 reads its event time as the
 * report's (the assumption of its time), never as a receipt time it was not
 * marked as: what the README says such rows read.
 */
async function complaintBeforeEventTimeSource(db: SqlDatabase, migrations: typeof MIGRATIONS): Promise<void> {
  await db.exec(`
    INSERT INTO complaints (id, received_at, event_time, ip, category, reporter, reporter_kind, raw, evidence, status, reason)
      VALUES ('old', 2000, 1000, '192.0.2.1', 'spam', 'r@example.org', 'upstream', 'raw', 'ev', 'needs_info', 'no host');
  `);
  expect(await migrate(db, migrations.slice(0, 15))).toEqual([15]);
  expect(await new ComplaintsRepo(db).get('old')).toMatchObject({ eventTime: new Date(1000), eventTimeSource: 'report' });
}

it('reads a complaint from before migration 15 as stated by the report, on SQLite', async () => {
  await complaintBeforeEventTimeSource(await sqliteAt(14), MIGRATIONS);
});

// Needs no server: a migration added to one list and not the other fails here even where PostgreSQL is missing.
it('PG_MIGRATIONS keeps MIGRATIONS\' versions and names', () => {
  expect(PG_MIGRATIONS.map((m) => [m.version, m.name])).toEqual(MIGRATIONS.map((m) => [m.version, m.name]));
});

describe.skipIf(postgresql.missing !== undefined)('PG_MIGRATIONS on a throw-away PostgreSQL cluster', () => {
  postgresql.setUp();

  it.each(ALL)('at version %i, has SQLite\'s tables, columns in order, nullability, defaults, indexes, foreign keys and triggers', async (n) => {
    const lite = await sqliteShape(await sqliteAt(n));
    const pg = await postgresShape(await postgresAt(n));
    expect(Object.keys(pg.columns).sort()).toEqual(Object.keys(lite.columns).sort());
    for (const table of Object.keys(lite.columns)) expect(pg.columns[table], table).toEqual(lite.columns[table]);
    expect(sorted(pg.indexes)).toEqual(sorted(lite.indexes));
    expect(sorted(pg.foreignKeys)).toEqual(sorted(lite.foreignKeys));
    expect(sorted(pg.triggers)).toEqual(sorted(lite.triggers));
  });

  it('refuses what SQLite\'s triggers refuse, as conflict, whether or not the value changes', async () => {
    const db = await postgresAt(10);
    await seed(db);
    const cases: [string, RegExp][] = [
      ["UPDATE incident_events SET actor = 'x'", /incident_events is append-only/],
      ['DELETE FROM incident_events', /incident_events is append-only/],
      ['TRUNCATE incident_events', /incident_events is append-only/],
      ["UPDATE audit_log SET actor = 'x'", /audit_log is append-only/],
      ['DELETE FROM audit_log', /audit_log is append-only/],
      ['TRUNCATE audit_log', /audit_log is append-only/],
      ["UPDATE blobs SET text = 'x'", /blobs are append-only/],
      ['DELETE FROM blobs', /blobs are append-only/],
      ['UPDATE complaints SET raw = raw', /complaints.raw never changes/],
      ['UPDATE complaints SET raw_sha256 = raw_sha256', /complaints.raw never changes/],
      ['UPDATE complaints SET excerpt = excerpt', /complaints.excerpt never changes/],
      ["UPDATE complaints SET auth_json = '{}'", /authenticated never changes/],
      ['UPDATE complaints SET trusted = 1 - trusted', /authenticated never changes/],
      ["UPDATE complaints SET reporter_id = 'r2'", /authenticated never changes/],
      ['UPDATE complaints SET fingerprint = fingerprint', /authenticated never changes/],
      ["UPDATE customer_files SET filename = 'y'", /evidence files never change/],
    ];
    for (const [sql, message] of cases) await expect(db.run(sql), sql).rejects.toMatchObject(refused(message));
    // Columns no trigger names stay writable.
    await db.run("UPDATE complaints SET reason = 'checked', reply_to = 'r@example.org'");
    const counts = await db.get(
      'SELECT (SELECT COUNT(*) FROM incident_events) AS e, (SELECT COUNT(*) FROM audit_log) AS a, (SELECT COUNT(*) FROM blobs) AS b, (SELECT COUNT(*) FROM customer_files) AS f',
    );
    expect(counts).toEqual({ e: 1, a: 1, b: 1, f: 1 });
  });

  it('lets host_desired.generation only grow', async () => {
    const db = await postgresAt(10);
    await seed(db);
    await expect(db.run('UPDATE host_desired SET generation = 5')).rejects.toMatchObject(refused(/only grows/));
    await expect(db.run('UPDATE host_desired SET generation = 4')).rejects.toMatchObject(refused(/only grows/));
    await expect(db.run('INSERT INTO host_desired VALUES (?, 3, 0) ON CONFLICT (host_id) DO UPDATE SET generation = excluded.generation', ['h1'])).rejects.toMatchObject(
      refused(/only grows/),
    );
    await db.run('UPDATE host_desired SET generation = 6');
    await db.run('UPDATE host_desired SET issued_at = 2000');
    expect(await db.get('SELECT generation, issued_at FROM host_desired')).toEqual({ generation: 6, issued_at: 2000 });
  });

  it('sets incidents.held_at from each held event, and only from those', async () => {
    const db = await postgresAt(10);
    await seed(db);
    const event = (at: number, type: string) =>
      db.run("INSERT INTO incident_events (incident_id, at, type, actor, detail_json) VALUES ('i1', ?, ?, 'op', '{}')", [at, type]);
    await event(5000, 'held');
    await event(6000, 'noted');
    expect(await db.get("SELECT held_at FROM incidents WHERE id = 'i1'")).toEqual({ held_at: 5000 });
    await event(7000, 'held');
    expect(await db.get("SELECT held_at FROM incidents WHERE id = 'i1'")).toEqual({ held_at: 7000 });
  });

  it('allows duplicate only with duplicate_of, linked only with an incident, and no incident otherwise', async () => {
    const db = await postgresAt(10);
    await seed(db);
    const complaint = (id: string, status: string, incident: string | null, duplicateOf: string | null) =>
      db.run(
        `INSERT INTO complaints (id, received_at, ip, category, reporter, reporter_kind, raw, evidence, incident_id, status, duplicate_of)
         VALUES (?, 1, '192.0.2.1', 'spam', 'r', 'mail', '', '', ?, ?, ?)`,
        [id, incident, status, duplicateOf],
      );
    await expect(complaint('d0', 'duplicate', null, null)).rejects.toMatchObject({ kind: 'conflict' });
    await expect(complaint('d0', 'duplicate', null, 'nothing')).rejects.toMatchObject({ kind: 'conflict' });
    await complaint('d1', 'duplicate', null, 'k1');
    await expect(complaint('l0', 'linked', null, null)).rejects.toMatchObject({ kind: 'conflict' });
    await complaint('l1', 'linked', 'i1', null);
    await expect(complaint('h0', 'held', 'i1', null)).rejects.toMatchObject({ kind: 'conflict' });
    await complaint('h1', 'held', null, null);
    await expect(complaint('x0', 'ignored', null, null)).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('keeps four eyes on approvals, and a decision reason only on a rejection', async () => {
    const db = await postgresAt(10);
    const approval = (id: string, status: string, decidedBy: string | null, reason: string | null = null) =>
      db.run("INSERT INTO approvals (id, requested_by, requested_at, action_json, reason, status, decided_by, decision_reason) VALUES (?, 'ann', 1, '{}', 'r', ?, ?, ?)", [
        id,
        status,
        decidedBy,
        reason,
      ]);
    await expect(approval('a0', 'approved', 'ann')).rejects.toMatchObject({ kind: 'conflict' });
    await expect(approval('a0', 'pending', 'bob')).rejects.toMatchObject({ kind: 'conflict' });
    await expect(approval('a0', 'approved', 'bob', 'fine')).rejects.toMatchObject({ kind: 'conflict' });
    await approval('a1', 'approved', 'bob');
    await approval('a2', 'rejected', 'ann', 'not this host');
  });

  it('applies nothing the second time', async () => {
    const db = await postgresql.open();
    expect(await migrate(db, PG_MIGRATIONS)).toEqual(ALL);
    expect(await migrate(db, PG_MIGRATIONS)).toEqual([]);
  });

  it('reads a complaint from before migration 15 as stated by the report, on PostgreSQL', async () => {
    await complaintBeforeEventTimeSource(await postgresAt(14), PG_MIGRATIONS);
  });

  it('backfills held_at from history when a version-9 database reaches 10', async () => {
    const db = await postgresAt(9);
    await db.exec(`
      INSERT INTO hosts VALUES ('h1', 'c1', '192.0.2.1');
      INSERT INTO incidents (id, host_id, customer_id, category, state, trusted, opened_at, step, actions_json, complaint_count, hold)
        VALUES ('held', 'h1', 'c1', 'spam', 'notified', 1, 1, 0, '[]', 1, 'stale'),
               ('released', 'h1', 'c1', 'scan', 'notified', 1, 1, 0, '[]', 1, NULL),
               ('silent', 'h1', 'c1', 'ddos', 'notified', 1, 1, 0, '[]', 1, 'stale');
      INSERT INTO incident_events (incident_id, at, type, actor, detail_json)
        VALUES ('held', 300, 'held', 'op', '{}'), ('held', 200, 'held', 'op', '{}'), ('held', 400, 'noted', 'op', '{}'),
               ('released', 100, 'held', 'op', '{}');
    `);
    expect(await migrate(db, PG_MIGRATIONS.slice(0, 10))).toEqual([10]);
    // The last held event by id, not the latest time: as SQLite's backfill does.
    expect(await db.all('SELECT id, held_at FROM incidents ORDER BY id')).toEqual([
      { id: 'held', held_at: 200 },
      { id: 'released', held_at: null },
      { id: 'silent', held_at: null },
    ]);
  });

  it('applies each migration once when two replicas migrate the same database at once', async () => {
    const db = await postgresql.open();
    const other = await postgresql.openAnother(db);
    const [a, b] = await Promise.all([migrate(db, PG_MIGRATIONS), migrate(other, PG_MIGRATIONS)]);
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(ALL);
    expect(await db.get('SELECT COUNT(*) AS n FROM schema_migrations')).toEqual({ n: ALL.length });
  });
});
