import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH } from '../../../controller/store/AuditLog.js';
import type { Store } from '../../../controller/store/Store.js';
import { at, fileStore } from './storeFixtures.js';

async function fiveRows(): Promise<Store> {
  const store = await fileStore();
  for (let i = 1; i <= 5; i++) {
    const detail = { n: i, when: at(i), z: 'last', a: [1, 'two'] };
    await store.audit.append({ at: at(i), actor: 'olga', action: 'incident.notice_sent', subject: `inc-${i}`, detail });
  }
  return store;
}

/** What an attacker with file access does first. */
/** What an attacker with the database's owner rights does first. */
const dropTriggers = (store: Store) =>
  store.db.exec(store.db.dialect === 'sqlite' ? 'DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;' : 'DROP TRIGGER audit_log_no_update ON audit_log; DROP TRIGGER audit_log_no_delete ON audit_log;');

describe('AuditLog', () => {
  it('chains each row to the previous by a hash anyone can recompute', async () => {
    const store = await fiveRows();
    const rows = await store.audit.list();
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    expect(rows[0]!.prevHash).toBe(GENESIS_HASH);
    expect(rows[1]!.prevHash).toBe(rows[0]!.hash);
    const detail = `{"a":[1,"two"],"n":1,"when":"${at(1).toISOString()}","z":"last"}`;
    const body = `{"action":"incident.notice_sent","actor":"olga","at":${at(1).getTime()},"detail":${detail},"id":1,"subject":"inc-1"}`;
    expect(rows[0]!.hash).toBe(createHash('sha256').update(GENESIS_HASH + body).digest('hex'));
    expect(await store.audit.verify()).toEqual({ ok: true, rows: 5 });
    expect((await store.audit.list({ subject: 'inc-3' })).map((r) => r.id)).toEqual([3]);
  });

  it('names the first edited row, even with the triggers dropped', async () => {
    const store = await fiveRows();
    await dropTriggers(store);
    await store.db.run("UPDATE audit_log SET actor = 'mallory' WHERE id = 3");
    expect(await store.audit.verify()).toEqual({ ok: false, rows: 2, firstBroken: { id: 3, reason: expect.stringMatching(/hash does not match the row/) } });
  });

  it('catches an edit whose hash was recomputed, at the next row', async () => {
    const store = await fiveRows();
    await dropTriggers(store);
    const row = (await store.audit.list()).find((r) => r.id === 2)!;
    const body = JSON.stringify({ action: row.action, actor: row.actor, at: row.at.getTime(), detail: { forged: true }, id: 2, subject: row.subject });
    const forged = createHash('sha256').update(row.prevHash + body).digest('hex');
    await store.db.run(`UPDATE audit_log SET detail_json = '{"forged":true}', hash = ? WHERE id = 2`, [forged]);
    expect(await store.audit.verify()).toMatchObject({ ok: false, firstBroken: { id: 3, reason: expect.stringMatching(/prev_hash does not match row 2/) } });
  });

  it('catches deleted rows, in the middle and at the start', async () => {
    const store = await fiveRows();
    await dropTriggers(store);
    await store.db.run('DELETE FROM audit_log WHERE id = 4');
    expect(await store.audit.verify()).toMatchObject({ ok: false, rows: 3, firstBroken: { id: 5, reason: expect.stringMatching(/deleted/) } });
    await store.db.run('DELETE FROM audit_log WHERE id = 1');
    expect(await store.audit.verify()).toMatchObject({ ok: false, rows: 0, firstBroken: { id: 2, reason: expect.stringMatching(/start of the chain/) } });
  });

  it('keeps one chain under concurrent appends', async () => {
    const store = await fileStore();
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.audit.append({ at: at(0), actor: 'a', action: 'x', subject: `s${i}`, detail: null })));
    expect(await store.audit.verify()).toEqual({ ok: true, rows: 50 });
  });
});
