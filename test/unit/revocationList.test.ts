import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RevocationList } from '../../controller/agents/RevocationList.js';

describe('RevocationList', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-revoked-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const nextTurn = () => new Promise((r) => setImmediate(r));

  it('sees a revocation at the next check of a new call or of an admitted connection', async () => {
    const file = join(dir, 'revoked-serials');
    writeFileSync(file, '# none yet\n');
    const list = new RevocationList(file);
    expect(list.check('0a')).toBeUndefined();
    await nextTurn();
    writeFileSync(file, '0A\n');
    // The first check after the write, in a new turn: it sees it, for a new call and for an admitted connection alike.
    expect(list.check('0a')).toMatch(/revoked/);
    expect(list.revoked('0a')).toMatch(/revoked/);
    await nextTurn();
    writeFileSync(file, '# lifted\n');
    await nextTurn();
    expect(list.check('0a')).toBeUndefined();
  });

  it('reads the file once for a sweep over 10,000 sessions in one run, and again at the next turn', async () => {
    const file = join(dir, 'many');
    writeFileSync(file, '01\n');
    const list = new RevocationList(file);
    const answers = new Set<string | undefined>();
    for (let k = 0; k < 10_000; k++) {
      answers.add(list.revoked('1'));
      // Lifted half way through the sweep: a re-read would show it, the one status does not.
      if (k === 5_000) writeFileSync(file, '# lifted, and a different size\n');
    }
    expect([...answers]).toEqual([expect.stringMatching(/revoked/)]);
    await nextTurn();
    expect(list.revoked('1')).toBeUndefined();
  });

  it('says whether anything is revoked, for the sweep to skip its walk when nothing is; a list gone unreadable keeps the last one read', async () => {
    const file = join(dir, 'any');
    writeFileSync(file, '# nothing revoked\n');
    const list = new RevocationList(file);
    expect(list.anyRevoked()).toBe(false);
    await nextTurn();
    writeFileSync(file, '0b\n');
    expect(list.anyRevoked()).toBe(true);
    await nextTurn();
    rmSync(file);
    expect(list.anyRevoked()).toBe(true);
    expect(list.revoked('0B')).toMatch(/revoked/);
    expect(new RevocationList('').anyRevoked()).toBe(false);
  });
});
