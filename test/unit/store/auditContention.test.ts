import { describe, expect, it, onTestFinished } from 'vitest';
import type { Store } from '../../../controller/store/Store.js';
import { reopenTestStore } from '../../helpers/testStore.js';
import { at, fileStore, host } from './storeFixtures.js';

/**
 * Several writers (replicas on PostgreSQL, processes on one SQLite file)
 * appending to the one audit chain at once, each append inside a
 * transaction that also changes a row of its own, as the services' are.
 * On PostgreSQL every such transaction reads the chain's head: run
 * optimistically, all but one of the writers lose each race and some lose
 * every rerun; each takes the write lock from its start (PgDatabase's
 * writeLock), and none may fail.
 */
describe('the audit chain under writers racing for its head', () => {
  it('takes every append from three writers at once, in one unbroken chain', async () => {
    const first = await fileStore();
    await first.hosts.upsertMany([host('web-01', ['203.0.113.0/24'])]);
    const writers: Store[] = [first];
    for (let i = 1; i < 3; i++) {
      const other = await reopenTestStore(first, first.path);
      onTestFinished(() => other.close());
      writers.push(other);
    }
    const PER_WRITER = 100;
    const results = await Promise.allSettled(
      writers.map(async (store, w) => {
        for (let n = 0; n < PER_WRITER; n++) {
          await store.db.transaction(async () => {
            // A read-then-write of shared state, then the append: the shape of IncidentService's transactions.
            await store.hosts.get('web-01');
            await store.audit.append({ at: at(n), actor: `writer-${w}`, action: 'test.append', subject: `n-${n}`, detail: { w, n } });
          });
        }
      }),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const rows = await first.audit.list({ limit: 1000 });
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 3 * PER_WRITER }, (_, i) => i + 1));
    for (let w = 0; w < 3; w++) expect(rows.filter((r) => r.actor === `writer-${w}`)).toHaveLength(PER_WRITER);
    expect(await first.audit.verify()).toEqual({ ok: true, rows: 3 * PER_WRITER });
  });
});
