import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REVOKED_MAX_AGE_MS, RevocationList } from '../../controller/agents/RevocationList.js';

describe('RevocationList', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-revoked-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('reads a revocation at once for a new call, and within REVOKED_MAX_AGE_MS for an admitted connection', async () => {
    const file = join(dir, 'revoked-serials');
    writeFileSync(file, '# none yet\n');
    const list = new RevocationList(file);
    expect(list.check('0a')).toBeUndefined();
    expect(list.revoked('0a')).toBeUndefined();
    writeFileSync(file, '0A\n', { flag: 'w' });
    // A new call sees it on the spot (a different size, so a stamp that changed even within the same millisecond).
    expect(list.check('0a')).toMatch(/revoked/);
    writeFileSync(file, '# lifted\n');
    // An admitted connection's check may go on with a status up to REVOKED_MAX_AGE_MS old, then reads again.
    await sleep(REVOKED_MAX_AGE_MS + 20);
    expect(list.revoked('0a')).toBeUndefined();
    writeFileSync(file, '0A\n');
    await sleep(REVOKED_MAX_AGE_MS + 20);
    expect(list.revoked('0a')).toMatch(/revoked/);
  });

  it('does not read the file again for each of 10,000 sessions the sweep checks in a row: one status serves them all', async () => {
    const file = join(dir, 'many');
    writeFileSync(file, '01\n');
    const list = new RevocationList(file);
    expect(list.revoked('1')).toMatch(/revoked/);
    writeFileSync(file, '# lifted, and a different size\n');
    // Within the window every check answers from the status read once (a re-read would see the lift).
    const answers = new Set(Array.from({ length: 10_000 }, () => list.revoked('1')));
    expect([...answers]).toEqual([expect.stringMatching(/revoked/)]);
    await sleep(REVOKED_MAX_AGE_MS + 20);
    expect(list.revoked('1')).toBeUndefined();
  });
});
