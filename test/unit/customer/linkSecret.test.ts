import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadLinkSecret } from '../../../controller/customer/linkSecret.js';
import { DIST } from '../../helpers/paths.js';

const dirs: string[] = [];
const freshDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'cordon-secret-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs loadLinkSecret in a separate node process; resolves with the secret in hex. */
function loadInProcess(path: string): Promise<string> {
  const code = `import(${JSON.stringify(join(DIST, 'controller/customer/linkSecret.js'))}).then(async (m) => process.stdout.write((await m.loadLinkSecret(${JSON.stringify(path)})).toString('hex')))`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (c) => (c === 0 ? resolve(out) : reject(new Error(`exit ${c}: ${err}`))));
  });
}

describe('loadLinkSecret', () => {
  it('creates a 32-byte secret readable by its owner alone, and reads the same one again', async () => {
    const path = join(freshDir(), 'web', 'link-secret');
    const first = await loadLinkSecret(path);
    expect(first.length).toBe(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await loadLinkSecret(path)).equals(first)).toBe(true);
  });

  it('gives every one of many concurrent callers the same secret, and leaves no temporary file', async () => {
    const dir = freshDir();
    const path = join(dir, 'link-secret');
    const secrets = await Promise.all(Array.from({ length: 20 }, () => loadLinkSecret(path)));
    for (const s of secrets) expect(s.equals(secrets[0]!)).toBe(true);
    expect(readdirSync(dir)).toEqual(['link-secret']);
  });

  // Three replicas of the lab start at once on one secret file: none may read a half-written one.
  it('gives controllers starting at once in separate processes the same secret', async () => {
    const dir = freshDir();
    const path = join(dir, 'link-secret');
    const secrets = await Promise.all(Array.from({ length: 4 }, () => loadInProcess(path)));
    expect(secrets[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(secrets).size).toBe(1);
    expect(readdirSync(dir)).toEqual(['link-secret']);
  });

  it('refuses a secret file others can read, and one too short, naming the field', async () => {
    const dir = freshDir();
    const open = join(dir, 'open');
    writeFileSync(open, Buffer.alloc(32, 1), { mode: 0o644 });
    await expect(loadLinkSecret(open)).rejects.toThrow(/readable by others/);
    const short = join(dir, 'short');
    writeFileSync(short, Buffer.alloc(8, 1), { mode: 0o600 });
    await expect(loadLinkSecret(short)).rejects.toMatchObject({ field: 'web.customer.secretFile' });
  });
});
