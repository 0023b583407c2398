import { describe, expect, it } from 'vitest';
import { queueSql } from '../../../controller/desk/deskQueueSql.js';
import { MIGRATIONS } from '../../../controller/store/migrations.js';
import { PG_MIGRATIONS } from '../../../controller/store/pg/pgMigrations.js';
import { testEngine } from '../../helpers/testStore.js';
import { at, incident, seededStore } from '../store/storeFixtures.js';

const QUEUE_SQL = queueSql(testEngine);

/**
 * The queue's reads stay bounded by what a page shows: each reason's
 * statement walks its own index in `since` order (no scan of the incidents,
 * no sort of everything waiting), and `held_at` follows the held events.
 */
describe("the queue's statements", () => {
  /**
   * SQLite's plan as it will run. PostgreSQL plans by statistics, and a
   * seeded store's tables are nearly empty, so a scan would win there
   * anyway: with scans priced out, its plan shows that the statement can
   * walk its index at all (a partial index only where the query implies
   * the index's WHERE).
   */
  const plan = async (sql: string, params: unknown[]) => {
    const store = await seededStore();
    if (testEngine === 'sqlite') return (await store.db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params as never)).map((r) => r.detail).join('\n');
    return store.db.transaction(async () => {
      await store.db.run('SET LOCAL enable_seqscan = off');
      return (await store.db.all<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`, params as never)).map((r) => r['QUERY PLAN']).join('\n');
    });
  };

  it.each([
    ['answered', ['appealed', 200], /SEARCH incidents USING INDEX incidents_queue_answered \(state=\?\)/, /Index Scan using incidents_queue_answered on incidents\n\s+Index Cond: \(state = 'appealed'/],
    ['held', [200], /SCAN incidents USING INDEX incidents_queue_held/, /Index Scan using incidents_queue_held on incidents/],
    ['bounced', [200], /incidents USING INDEX incidents_queue_bounced/, /Index Scan on incidents_queue_bounced/],
    ['unseen', [200], /SCAN m USING INDEX customer_messages_unseen\n/, /Index Scan using customer_messages_unseen on customer_messages m/],
    ['reports', ['needs_info', 200], /SEARCH complaints USING INDEX complaints_by_status \(status=\?\)/, /Index Scan using complaints_by_status on complaints/],
    ['bmcDown', [], /SCAN enforcements USING INDEX enforcements_cuts[\s\S]*bmc_checks_by_host_reachable \(host_id=\? AND reachable=\?\)/, /Index Scan on enforcements_cuts[\s\S]*bmc_checks_by_host_reachable on bmc_checks r\n\s+Index Cond: \(\(host_id = enforcements.host_id\) AND \(reachable = 1\)/],
    ['openByHostCategory', ['[]'], /SEARCH incidents USING INDEX incidents_one_open \(host_id=\? AND category=\?\)/, /Index Scan on incidents_one_open/],
  ] as const)('%s walks its index', async (name, params, sqliteIndex, pgIndex) => {
    const p = await plan(QUEUE_SQL[name], [...params]);
    if (testEngine === 'postgresql') {
      expect(p).toMatch(pgIndex);
      expect(p).not.toMatch(/Seq Scan/);
    } else {
      expect(p).toMatch(sqliteIndex);
      // Sorting everything that waits is what made the page slow (BENCHMARKS.md §6): only ties on `since` may be sorted.
      expect(p).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
      expect(p).not.toMatch(/^SCAN incidents$/m);
    }
  });

  it('counts every incident and report reason from indexes, without reading incident rows', async () => {
    const p = await plan(QUEUE_SQL.counts, []);
    if (testEngine === 'postgresql') {
      // Four answered states from their index; releasing (few at a time) from the state index.
      expect(p.match(/Index Only Scan using incidents_queue_answered on incidents/g)).toHaveLength(4);
      expect(p.match(/Index Only Scan using complaints_by_status on complaints/g)).toHaveLength(2);
      expect(p).not.toMatch(/Seq Scan/);
    } else {
      // Four answered states and releasing.
      expect(p.match(/COVERING INDEX incidents_by_state \(state=\?\)/g)).toHaveLength(5);
      expect(p.match(/COVERING INDEX complaints_by_status \(status=\?\)/g)).toHaveLength(2);
      expect(p).not.toMatch(/^SCAN incidents$/m);
    }
  });

  it("keeps held_at at the incident's last held event, through updates, and backfills it for incidents held before migration 10", async () => {
    const store = await seededStore();
    await store.incidents.insert(incident({ state: 'escalated', hold: 'rate_limit', escalatedAt: at(24) }), undefined);
    const heldAt = async () => (await store.db.get<{ held_at: number | null }>("SELECT held_at FROM incidents WHERE id = 'inc-1'"))!.held_at;
    expect(await heldAt()).toBeNull();
    await store.events.append({ incidentId: 'inc-1', at: at(25), type: 'held', fromState: 'escalated', toState: 'escalated', actor: 'policy', detail: { hold: 'rate_limit' } });
    await store.events.append({ incidentId: 'inc-1', at: at(26), type: 'note', fromState: 'escalated', toState: 'escalated', actor: 'olga', detail: {} });
    expect(await heldAt()).toBe(at(25).getTime());
    await store.incidents.update(incident({ state: 'escalated', hold: 'approval', escalatedAt: at(24), complaintCount: 2 }), undefined);
    expect(await heldAt()).toBe(at(25).getTime());
    await store.events.append({ incidentId: 'inc-1', at: at(27), type: 'held', fromState: 'escalated', toState: 'escalated', actor: 'policy', detail: { hold: 'approval' } });
    expect(await heldAt()).toBe(at(27).getTime());

    // The backfill, as migrate() ran it on a store of version 9.
    const backfill = (testEngine === 'sqlite' ? MIGRATIONS : PG_MIGRATIONS).find((m) => m.version === 10)!.sql.match(/UPDATE incidents SET held_at[^;]+;/)![0];
    await store.db.run('UPDATE incidents SET held_at = NULL');
    await store.db.run(backfill);
    expect(await heldAt()).toBe(at(27).getTime());
  });
});
