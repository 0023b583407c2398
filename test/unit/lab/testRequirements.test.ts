import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script of the test runner, without types
import { ensureTestPackages, missingPackages } from '../../requirements.mjs';

const debian = spawnSync('sh', ['-c', 'command -v dpkg-query && command -v apt-get'], { stdio: 'ignore' }).status === 0;
if (!debian) process.stderr.write('SKIP testRequirements.test.ts: not a Debian system (no dpkg-query/apt-get)\n');

/** npm test's first step (test/requirements.mjs), on the paths that install nothing. */
describe.skipIf(!debian)("the test command's Debian packages", () => {
  it('reads what dpkg has installed, and names a package it does not know as missing', () => {
    expect(missingPackages(['coreutils', 'cordon-no-such-package'])).toEqual(['cordon-no-such-package']);
  });

  it('as a non-root user installs nothing and says what to run instead', () => {
    const lines: string[] = [];
    const still = ensureTestPackages((l: string) => lines.push(l), { uid: 1000, packages: { 'cordon-no-such-package': 'nothing' } }) as string[];
    expect(still).toContain('cordon-no-such-package');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^test requirements: not root, so not installing cordon-no-such-package.*sudo apt-get install -y cordon-no-such-package$/);
  });

  it('says nothing and asks no one when everything is installed', () => {
    const lines: string[] = [];
    const started = Date.now();
    expect(ensureTestPackages((l: string) => lines.push(l), { uid: 1000, packages: { coreutils: 'everything' } })).toEqual(expect.any(Array));
    // crowdsec may be absent here (its line then says so); with it, not a word.
    expect(lines.every((l) => /crowdsec/.test(l))).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
