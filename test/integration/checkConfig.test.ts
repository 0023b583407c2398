import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';

function runBin(bin: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(DIST, bin), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `--check-config` on the built daemons: each case exits 1 and names the key. */
describe('--check-config catches what would fail later', () => {
  let pki: TestPki;
  let n = 0;
  let controllerBase: Record<string, unknown>;
  let agentBase: Record<string, unknown>;

  const write = (content: unknown) => {
    const path = join(pki.root, `config-${n++}.json`);
    writeFileSync(path, JSON.stringify(content));
    return path;
  };
  const controller = (over: Record<string, unknown>) => runBin('controller/main.js', ['--config', write({ ...controllerBase, ...over }), '--check-config']);
  const agent = (over: Record<string, unknown>) => runBin('agent/main.js', ['--config', write({ ...agentBase, ...over }), '--check-config']);

  beforeAll(() => {
    pki = new TestPki();
    pki.agent('web-01');
    const tls = (name: string) => ({ ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, `${name}.crt`), key: join(pki.dir, `${name}.key`) });
    controllerBase = {
      listen: '127.0.0.1:0',
      tls: { ...tls('controller'), revokedSerialsFile: pki.revokedFile },
      store: { path: join(pki.root, 'cordon.db') },
    };
    agentBase = { hostId: 'web-01', tls: tls('agent-web-01') };
  });
  afterAll(() => pki?.cleanup());

  it('passes the base configs', () => {
    expect(controller({})).toMatchObject({ code: 0, stdout: 'config OK\n' });
    expect(agent({})).toMatchObject({ code: 0, stdout: 'config OK\n' });
  });

  it('refuses "drill": "no" instead of turning drill mode on', () => {
    for (const value of ['no', 'off', '0']) {
      const r = controller({ clock: { drill: value } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/clock\.drill: must be of type Boolean/);
    }
    const r = agent({ log: { pretty: 'false' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/log\.pretty: must be of type Boolean/);
  });

  it('takes a list of controllers, and refuses a bad one naming controller.addresses', () => {
    expect(agent({ controller: { addresses: ['10.255.0.1:7443', 'ctl-b.mgmt:7443'], serverName: 'ctl.mgmt' } })).toMatchObject({ code: 0, stdout: 'config OK\n' });
    const cases: [unknown, RegExp][] = [
      [{ addresses: ['10.255.0.1:7443', '10.255.0.1:7443'] }, /controller\.addresses: \[1\] "10\.255\.0\.1:7443" is listed twice/],
      [{ addresses: ['10.255.0.1'] }, /controller\.addresses: \[0\] must be host:port/],
      [{ address: '10.255.0.9:7443', addresses: ['10.255.0.1:7443'] }, /controller\.addresses: set either controller\.address or controller\.addresses, not both/],
    ];
    for (const [controller, message] of cases) {
      const r = agent({ controller });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it('refuses a certificate whose key is not its own, in both daemons', () => {
    const c = controller({ tls: { ...(controllerBase.tls as object), key: join(pki.dir, 'agent-web-01.key') } });
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/tls\.key: .*agent-web-01\.key is not the private key of the certificate .*controller\.crt/);
    const a = agent({ tls: { ...(agentBase.tls as object), key: join(pki.dir, 'controller.key') } });
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/tls\.key: .*controller\.key is not the private key of the certificate .*agent-web-01\.crt/);
  });

  it('refuses a store path that cannot be opened', () => {
    const file = join(pki.root, 'a-file');
    writeFileSync(file, '');
    const underFile = controller({ store: { path: join(file, 'cordon.db') } });
    expect(underFile.code).toBe(1);
    expect(underFile.stderr).toMatch(/store\.path: cannot reach .*a-file\/cordon\.db: ENOTDIR/);
    mkdirSync(join(pki.root, 'a-directory.db'));
    const directory = controller({ store: { path: join(pki.root, 'a-directory.db') } });
    expect(directory.code).toBe(1);
    expect(directory.stderr).toMatch(/store\.path: .*a-directory\.db is not a regular file/);
    const text = join(pki.root, 'text.db');
    writeFileSync(text, 'not a database '.repeat(100));
    const notDb = controller({ store: { path: text } });
    expect(notDb.code).toBe(1);
    expect(notDb.stderr).toMatch(/store\.path: .*text\.db is not a usable SQLite database/);
  });

  it('refuses an invalid mail.from and an empty SMTP host', () => {
    const from = controller({ mail: { from: 'Abuse Desk <abuse@provider.example>' } });
    expect(from.code).toBe(1);
    expect(from.stderr).toMatch(/mail\.from: must be a bare e-mail address/);
    const host = controller({ mail: { smtp: { host: '' } } });
    expect(host.code).toBe(1);
    expect(host.stderr).toMatch(/mail\.smtp\.host: must be a host name or an IP address/);
  });
});
