import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';

/** Runs the built agent daemon for `ms`, then stops it; resolves with what it printed. */
function runFor(args: string[], ms: number): Promise<string> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [join(DIST, 'agent/main.js'), ...args], { timeout: ms }, (_err, stdout, stderr) => resolve(stdout + stderr));
    child.on('error', () => {});
  });
}

/**
 * The built agent daemon (its controller unreachable) logs JSON lines by
 * default, and lines for a person with --log-pretty.
 */
describe('cordon-agent --log-pretty', () => {
  let pki: TestPki;
  let work: string;
  let config: string;

  beforeAll(() => {
    pki = new TestPki();
    pki.agent('web-01');
    work = mkdtempSync(join(tmpdir(), 'cordon-pretty-'));
    config = join(work, 'agent.json');
    writeFileSync(
      config,
      JSON.stringify({
        hostId: 'web-01',
        backend: 'dry-run',
        controller: { address: '127.0.0.1:1', serverName: 'localhost' },
        tls: { ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, 'agent-web-01.crt'), key: join(pki.dir, 'agent-web-01.key') },
        interfaces: { public: ['pub0'], management: ['mgmt0'] },
        stateDir: join(work, 'state'),
      }),
    );
  });
  afterAll(() => {
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('prints JSON by default and human-readable lines with --log-pretty', async () => {
    const plain = await runFor(['--config', config], 1_500);
    const pretty = await runFor(['--config', config, '--log-pretty'], 1_500);
    expect(plain.split('\n').filter(Boolean).every((l) => l.startsWith('{'))).toBe(true);
    expect(JSON.parse(plain.split('\n')[0]!)).toMatchObject({ name: 'cordon-agent', level: 30 });
    expect(pretty).not.toMatch(/^\{/m);
    expect(pretty).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  cordon-agent: /m);
  });
});
