import { describe, expect, it } from 'vitest';
import { DeskChanges } from '../../../controller/web/desk/DeskChanges.js';
import { LatestRead } from '../../../controller/web/desk/LatestRead.js';

/** A read that counts its calls and answers with that count (or fails when told to). */
function countingRead() {
  const r = { calls: 0, fail: false, read: async () => { r.calls++; if (r.fail) throw new Error('store gone'); return r.calls; } };
  return r;
}

describe('LatestRead: the queue read once per change for every open desk', () => {
  it('reuses one read until something changes, then reads again at once', async () => {
    const changes = new DeskChanges(10_000); // the coalesced signal never fires in this test: the version alone must do
    const r = countingRead();
    const latest = new LatestRead(changes, r.read);
    expect(await latest.get()).toBe(1);
    expect(await latest.get()).toBe(1);
    changes.notify(); // e.g. a commit: the very next view must not see the old read
    expect(await latest.get()).toBe(2);
    expect(r.calls).toBe(2);
  });

  it('shares one read among views in flight at the same time', async () => {
    const r = countingRead();
    const latest = new LatestRead(new DeskChanges(), r.read);
    const seen = await Promise.all(Array.from({ length: 10 }, () => latest.get()));
    expect(seen).toEqual(Array(10).fill(1));
    expect(r.calls).toBe(1);
  });

  it('reads again once the kept read is older than maxAgeMs, with nothing changed (time-only facts such as overdue)', async () => {
    let now = 0;
    const r = countingRead();
    const latest = new LatestRead(new DeskChanges(), r.read, 2_000, () => now);
    await latest.get();
    now = 1_999;
    expect(await latest.get()).toBe(1);
    now = 2_000;
    expect(await latest.get()).toBe(2);
  });

  it('does not keep a failed read: the next view tries again', async () => {
    const r = countingRead();
    r.fail = true;
    const latest = new LatestRead(new DeskChanges(), r.read);
    await expect(latest.get()).rejects.toThrow('store gone');
    r.fail = false;
    expect(await latest.get()).toBe(2);
  });

  it('a change during a read leaves that read stale for the next view', async () => {
    const changes = new DeskChanges(10_000);
    let release!: () => void;
    let calls = 0;
    const latest = new LatestRead(changes, async () => {
      calls++;
      if (calls === 1) await new Promise<void>((resolve) => (release = resolve));
      return calls;
    });
    const first = latest.get();
    changes.notify(); // committed while the first read was running: it may have missed it
    release();
    expect(await first).toBe(1);
    expect(await latest.get()).toBe(2);
  });
});
