import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkStorePath } from '../../controller/checkStorePath.js';
import { Store } from '../../controller/store/Store.js';

const dir = mkdtempSync(join(tmpdir(), 'cordon-store-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkStorePath', () => {
  it('accepts a new file in a writable directory without creating it', async () => {
    const path = join(dir, 'new.db');
    await checkStorePath(path);
    expect(existsSync(path)).toBe(false);
  });

  it('accepts an existing store and leaves it as it was', async () => {
    const path = join(dir, 'existing.db');
    const store = await Store.open(path);
    await store.close();
    const before = readdirSync(dir).sort();
    await checkStorePath(path);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('takes a missing directory for --check-config (systemd creates it), not at start', async () => {
    await checkStorePath(join(dir, 'absent', 'cordon.db'));
    await expect(checkStorePath(join(dir, 'absent', 'cordon.db'), { missingDirectory: 'refuse' })).rejects.toThrow(/^store\.path: the directory .*absent does not exist/);
    writeFileSync(join(dir, 'a-file'), '');
    await expect(checkStorePath(join(dir, 'a-file', 'sub', 'cordon.db'))).rejects.toThrow(/^store\.path: cannot reach .*: ENOTDIR/);
    await expect(checkStorePath(join(dir, 'a-file', 'cordon.db'))).rejects.toThrow(/^store\.path: cannot reach .*: ENOTDIR/);
  });

  it('refuses, naming store.path, a directory, a file that is not a database, and an empty path', async () => {
    mkdirSync(join(dir, 'a-dir.db'));
    await expect(checkStorePath(join(dir, 'a-dir.db'))).rejects.toThrow(/^store\.path: .* is not a regular file/);
    writeFileSync(join(dir, 'text.db'), 'this is not a database, but it is long enough to have a header page or so.'.repeat(20));
    await expect(checkStorePath(join(dir, 'text.db'))).rejects.toThrow(/^store\.path: .* is not a usable SQLite database/);
    await expect(checkStorePath('')).rejects.toThrow(/^store\.path: is empty/);
  });

  if (process.getuid?.() === 0) process.stderr.write('SKIP checkStorePath.test.ts: an unwritable file cannot be shown as root, who may write anything\n');
  it.skipIf(process.getuid?.() === 0)('refuses a file it may not write (not as root, which may write anything)', async () => {
    const path = join(dir, 'readonly.db');
    writeFileSync(path, '');
    chmodSync(path, 0o400);
    await expect(checkStorePath(path)).rejects.toThrow(/^store\.path: .* is not readable and writable: EACCES/);
  });
});
