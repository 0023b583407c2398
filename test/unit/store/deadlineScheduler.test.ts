import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../controller/clock.js';
import { DeadlineScheduler, oneByOne } from '../../../controller/services/DeadlineScheduler.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import { incident, seededStore, T0 } from './storeFixtures.js';

const flush = () => new Promise((resolve) => setImmediate(resolve));

/** i000 … i699, each due 1 ms after the one before, from T0: more than a page of 500. */
async function sevenHundredDue() {
  const store = await seededStore();
  await store.db.transaction(async () => {
    for (let n = 0; n < 700; n++) {
      await store.incidents.insert(incident({ id: `i${String(n).padStart(3, '0')}`, hostId: n % 2 ? 'web-01' : 'web-02', state: 'closed' }), new Date(T0.getTime() + n));
    }
  });
  return store;
}

describe('DeadlineScheduler over IncidentsRepo', () => {
  it('pages past deadlines whose events keep failing, so the ones behind them still fire in the same run', async () => {
    // 700 due deadlines (more than a page of 500): the first 600 fail, the last 100 succeed.
    const store = await sevenHundredDue();
    const clock = new ManualClock(new Date(T0.getTime() + 10_000));
    const fired: string[] = [];
    const scheduler = new DeadlineScheduler(
      store.incidents,
      oneByOne(async (id) => {
        fired.push(id);
        if (id < 'i600') throw new Error('keeps failing');
        await store.db.run('UPDATE incidents SET next_due_at = NULL WHERE id = ?', [id]);
      }),
      clock,
      silentLogger(),
    );
    await scheduler.start();
    expect(fired).toHaveLength(700);
    expect(new Set(fired).size).toBe(700);
    expect((await store.incidents.earliestDue())?.id).toBe('i000');
    // The failures are retried a minute later, not in a busy loop.
    clock.advance(59_000);
    await flush();
    expect(fired).toHaveLength(700);
    scheduler.stop();
  });

  it('answers a burst of kicks with one run', async () => {
    const store = await seededStore();
    let reads = 0;
    const source = {
      earliestDue: () => store.incidents.earliestDue(),
      dueUpTo: async (...args: Parameters<typeof store.incidents.dueUpTo>) => {
        reads++;
        return store.incidents.dueUpTo(...args);
      },
    };
    const scheduler = new DeadlineScheduler(source, async () => new Map(), new ManualClock(T0), silentLogger());
    await scheduler.start();
    reads = 0;
    await Promise.all(Array.from({ length: 100 }, () => scheduler.kick()));
    expect(reads).toBeLessThanOrEqual(2);
    scheduler.stop();
  });
});

describe('DeadlineScheduler with a page fired at once', () => {
  it('hands each page of due deadlines over at once, and logs the failures it returns without a busy loop', async () => {
    const store = await sevenHundredDue();
    const clock = new ManualClock(new Date(T0.getTime() + 10_000));
    const pages: number[] = [];
    const scheduler = new DeadlineScheduler(
      store.incidents,
      async (page) => {
        pages.push(page.length);
        const failed = new Map<string, unknown>();
        await store.db.transaction(async () => {
          for (const d of page) {
            if (d.id < 'i100') failed.set(d.id, new Error('keeps failing'));
            else await store.db.run('UPDATE incidents SET next_due_at = NULL WHERE id = ?', [d.id]);
          }
        });
        return failed;
      },
      clock,
      silentLogger(),
    );
    await scheduler.start();
    expect(pages).toEqual([500, 200]);
    expect((await store.incidents.earliestDue())?.id).toBe('i000');
    expect((await store.incidents.dueUpTo(clock.now(), 1000)).length).toBe(100);
    clock.advance(59_000);
    await flush();
    expect(pages).toEqual([500, 200]);
    scheduler.stop();
  });
});
