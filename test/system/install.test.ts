import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';

const gate = systemTestGate(['npm', 'openssl', 'setpriv', 'systemd-sysusers']);
explainSkip('install.test.ts', gate);

const INSTALL = join(REPO_ROOT, 'deploy/install.sh');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function install(args: string[], script = INSTALL): Run {
  const r = spawnSync(script, args, { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A throwaway root the `cordon` user can traverse, like / on a real host. */
function makeRoot(withPasswd: boolean): string {
  const root = mkdtempSync(join(tmpdir(), 'cordon-install-'));
  chmodSync(root, 0o755);
  if (withPasswd) {
    // An OS tree (an image being built): install.sh adds the user to it.
    mkdirSync(join(root, 'etc'), { mode: 0o755 });
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
  }
  return root;
}

const mode = (p: string) => statSync(p).mode & 0o7777;

/** uid and gid of a user in the root's own passwd file. */
function rootUser(root: string, name: string): { uid: number; gid: number } {
  const line = readFileSync(join(root, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no ${name} in ${root}/etc/passwd`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** Runs an installed command as uid:gid (the unit's User=/Group=), with a clean environment. */
function runAs(ids: { uid: number; gid: number } | null, cmd: string, args: string[], env: Record<string, string> = {}): Run {
  const argv = ids ? ['setpriv', '--reuid', String(ids.uid), '--regid', String(ids.gid), '--clear-groups', '--', cmd, ...args] : [cmd, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every reported step of a run that changed nothing is "unchanged" or "kept". */
function changedLines(out: string): string[] {
  return out.split('\n').filter((l) => /^[a-z]+: /.test(l) && !/^(unchanged|kept|note|install\.sh): /.test(l));
}

describe.skipIf(!gate.ok)('deploy/install.sh', () => {
  let ctl: string;
  let agent: string;
  let first: { ctl: Run; agent: Run };
  let second: { ctl: Run; agent: Run };

  beforeAll(() => {
    ctl = makeRoot(true);
    agent = makeRoot(false);
    first = { ctl: install(['controller', '--root', ctl]), agent: install(['agent', '--root', agent]) };
    second = { ctl: install(['controller', '--root', ctl]), agent: install(['agent', '--root', agent]) };
  }, 120_000);

  afterAll(() => {
    for (const r of [ctl, agent]) if (r) rmSync(r, { recursive: true, force: true });
  });

  it('installs the controller, then finds nothing to do the second time', () => {
    expect(first.ctl.code, first.ctl.stderr).toBe(0);
    expect(first.ctl.stdout).toMatch(/^installed: .*\/opt\/cordon \(\d+ files: dist, production node_modules/m);
    expect(first.ctl.stdout).toMatch(/^created: user cordon in /m);
    expect(first.ctl.stdout).toMatch(/^created: .*\/etc\/cordon\/pki\/controller\.crt, controller\.key for localhost 127\.0\.0\.1 ::1$/m);
    expect(second.ctl.code, second.ctl.stderr).toBe(0);
    expect(changedLines(second.ctl.stdout)).toEqual([]);
    expect(second.ctl.stdout).toMatch(/^kept: .*\/etc\/cordon\/controller\.json \(exists; not overwritten/m);
    expect(second.ctl.stdout).toMatch(/nothing to do: everything was already in place\n$/);
  });

  it('installs the agent, then finds nothing to do the second time', () => {
    expect(first.agent.code, first.agent.stderr).toBe(0);
    expect(first.agent.stdout).toMatch(/^installed: .*\/etc\/systemd\/system\/cordon-agent-restore\.service$/m);
    expect(second.agent.code, second.agent.stderr).toBe(0);
    expect(changedLines(second.agent.stdout)).toEqual([]);
    expect(second.agent.stdout).toMatch(/nothing to do: everything was already in place\n$/);
  });

  it('lays out the package: executable bins behind relative symlinks, production dependencies only', () => {
    for (const [root, bins] of [
      [ctl, { 'usr/bin/cordon-controller': 'dist/controller/main.js', 'usr/bin/cordonctl': 'dist/controller/cli/cordonctl.cjs', 'usr/sbin/cordon-pki': 'deploy/pki/cordon-pki' }],
      [agent, { 'usr/bin/cordon-agent': 'dist/agent/main.js' }],
    ] as const) {
      for (const [link, target] of Object.entries(bins)) {
        const path = join(root, link);
        expect(lstatSync(path).isSymbolicLink()).toBe(true);
        expect(readlinkSync(path)).toMatch(/^\.\.\//); // resolves under --root and on / alike
        expect(realpathSync(path)).toBe(realpathSync(join(root, 'opt/cordon', target)));
        expect(mode(path) & 0o755).toBe(0o755);
      }
      const pkg = join(root, 'opt/cordon');
      expect(existsSync(join(pkg, 'package.json'))).toBe(true);
      expect(existsSync(join(pkg, 'node_modules/sqlite3/package.json'))).toBe(true);
      expect(existsSync(join(pkg, 'node_modules/@grpc/grpc-js/package.json'))).toBe(true);
      expect(existsSync(join(pkg, 'node_modules/vitest'))).toBe(false);
      expect(existsSync(join(pkg, 'node_modules/typescript'))).toBe(false);
      expect(statSync(join(pkg, 'dist/agent/main.js')).uid).toBe(0);
      expect(mode(join(pkg, 'dist/agent/main.js')) & 0o022).toBe(0); // nobody but root writes what root runs
    }
    expect(readFileSync(join(ctl, 'usr/bin/cordon-controller'), 'utf8')).toMatch(/^#!\/usr\/bin\/env -S node --disable-warning=DEP0123\n/);
    for (const u of ['cordon-controller.service']) expect(mode(join(ctl, 'etc/systemd/system', u))).toBe(0o644);
    for (const u of ['cordon-agent.service', 'cordon-agent-restore.service']) expect(mode(join(agent, 'etc/systemd/system', u))).toBe(0o644);
    expect(existsSync(join(agent, 'etc/systemd/system/cordon-controller.service'))).toBe(false);
  });

  it('gives the controller its user, a PKI with private keys, and a config skeleton it can read', () => {
    const cordon = rootUser(ctl, 'cordon');
    expect(cordon.uid).toBeGreaterThan(0);
    const pki = join(ctl, 'etc/cordon/pki');
    expect(mode(pki)).toBe(0o750);
    expect(statSync(pki).gid).toBe(cordon.gid);
    expect(mode(join(pki, 'ca.key'))).toBe(0o600);
    expect(statSync(join(pki, 'ca.key')).uid).toBe(0);
    expect(mode(join(pki, 'controller.key'))).toBe(0o600);
    expect(statSync(join(pki, 'controller.key')).uid).toBe(cordon.uid);
    expect(mode(join(pki, 'ca.crt'))).toBe(0o644);
    const config = join(ctl, 'etc/cordon/controller.json');
    expect(mode(config)).toBe(0o640);
    expect(statSync(config).gid).toBe(cordon.gid);
    expect(readFileSync(config, 'utf8')).toBe(readFileSync(join(REPO_ROOT, 'deploy/controller.example.json'), 'utf8'));
    expect(readFileSync(join(ctl, 'etc/sysusers.d/cordon.conf'), 'utf8')).toMatch(/^u cordon /m);
  });

  it('runs the installed cordon-controller --check-config as user cordon on the skeleton', () => {
    const cordon = rootUser(ctl, 'cordon');
    const pki = join(ctl, 'etc/cordon/pki');
    // The skeleton names /etc/cordon/pki/...; the environment points the same keys into the throwaway root.
    const tlsEnv = {
      CORDON_TLS_CA: join(pki, 'ca.crt'),
      CORDON_TLS_CERT: join(pki, 'controller.crt'),
      CORDON_TLS_KEY: join(pki, 'controller.key'),
      CORDON_TLS_REVOKED: join(pki, 'revoked-serials'),
    };
    const bin = join(ctl, 'usr/bin/cordon-controller');
    const ok = runAs(cordon, bin, ['--check-config', '--config', join(ctl, 'etc/cordon/controller.json')], tlsEnv);
    expect(ok, ok.stderr).toMatchObject({ code: 0, stdout: 'config OK\n' });
    // The CA's key stays root's: the daemon's user cannot read it.
    const ca = runAs(cordon, bin, ['--check-config', '--config', join(ctl, 'etc/cordon/controller.json')], { ...tlsEnv, CORDON_TLS_KEY: join(pki, 'ca.key') });
    expect(ca.code).toBe(1);
    expect(ca.stderr).toMatch(/tls\.key: cannot read .*ca\.key: EACCES/);
  });

  it('starts the installed controller as user cordon and stops it cleanly on SIGTERM', async () => {
    const cordon = rootUser(ctl, 'cordon');
    const pki = join(ctl, 'etc/cordon/pki');
    const state = mkdtempSync(join(tmpdir(), 'cordon-install-state-'));
    spawnSync('chown', [`${cordon.uid}:${cordon.gid}`, state]);
    const child = spawn(
      'setpriv',
      ['--reuid', String(cordon.uid), '--regid', String(cordon.gid), '--clear-groups', '--', join(ctl, 'usr/bin/cordon-controller'), '--config', join(ctl, 'etc/cordon/controller.json')],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          CORDON_LISTEN: '127.0.0.1:0',
          CORDON_STORE: join(state, 'cordon.db'),
          CORDON_TLS_CA: join(pki, 'ca.crt'),
          CORDON_TLS_CERT: join(pki, 'controller.crt'),
          CORDON_TLS_KEY: join(pki, 'controller.key'),
          CORDON_TLS_REVOKED: join(pki, 'revoked-serials'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor('the installed controller to listen', () => out.includes('"msg":"controller listening"'), 15_000);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('"msg":"controller stopped"');
      expect(existsSync(join(state, 'cordon.db'))).toBe(true);
    } finally {
      child.kill('SIGKILL');
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('never overwrites an existing config', () => {
    const config = join(ctl, 'etc/cordon/controller.json');
    const edited = readFileSync(config, 'utf8').replace('"127.0.0.1:7443"', '"10.255.0.1:7443"');
    writeFileSync(config, edited);
    const again = install(['controller', '--root', ctl]);
    expect(again.code, again.stderr).toBe(0);
    expect(changedLines(again.stdout)).toEqual([]);
    expect(readFileSync(config, 'utf8')).toBe(edited);
  });

  it('gives the agent a root-only config skeleton and PKI folder that the installed agent reads', () => {
    const config = join(agent, 'etc/cordon/agent.json');
    expect(mode(config)).toBe(0o600);
    expect(mode(join(agent, 'etc/cordon/pki'))).toBe(0o700);
    expect(readFileSync(config, 'utf8')).toBe(readFileSync(join(REPO_ROOT, 'deploy/agent.example.json'), 'utf8'));
    const bin = join(agent, 'usr/bin/cordon-agent');
    const printed = runAs(null, bin, ['--print-config', '--config', config]);
    expect(printed.code, printed.stderr).toBe(0);
    expect(JSON.parse(printed.stdout)).toMatchObject({ hostId: 'change-me', stateDir: '/var/lib/cordon-agent' });
    // Without its certificate the daemon refuses to start, naming the file.
    const check = runAs(null, bin, ['--check-config', '--config', config]);
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(/tls\.(ca|cert|key): cannot read \/etc\/cordon\/pki\//);
    // What the boot unit runs works without a certificate (dry-run: this host is not touched).
    const state = mkdtempSync(join(tmpdir(), 'cordon-install-agent-'));
    try {
      const saved = runAs(null, bin, ['apply-saved', '--config', config], { CORDON_AGENT_BACKEND: 'dry-run', CORDON_AGENT_STATE_DIR: state });
      expect(saved, saved.stderr).toMatchObject({ code: 0, stdout: 'no saved state: nothing to apply\n' });
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('passes the agent check with a certificate from the installed cordon-pki', () => {
    const issued = runAs(null, join(ctl, 'usr/sbin/cordon-pki'), ['--dir', join(ctl, 'etc/cordon/pki'), 'issue-agent', 'web-01']);
    expect(issued.code, issued.stderr).toBe(0);
    const from = join(ctl, 'etc/cordon/pki');
    const to = join(agent, 'etc/cordon/pki');
    copyFileSync(join(from, 'ca.crt'), join(to, 'ca.crt'));
    copyFileSync(join(from, 'agent-web-01.crt'), join(to, 'agent.crt'));
    copyFileSync(join(from, 'agent-web-01.key'), join(to, 'agent.key'));
    const skeleton = JSON.parse(readFileSync(join(agent, 'etc/cordon/agent.json'), 'utf8')) as { tls: Record<string, string> };
    const config = join(agent, 'etc/cordon/agent-test.json');
    writeFileSync(config, JSON.stringify({ ...skeleton, hostId: 'web-01', tls: { ca: join(to, 'ca.crt'), cert: join(to, 'agent.crt'), key: join(to, 'agent.key') } }));
    const check = runAs(null, join(agent, 'usr/bin/cordon-agent'), ['--check-config', '--config', config]);
    expect(check, check.stderr).toMatchObject({ code: 0, stdout: 'config OK\n' });
  });

  it('writes a note instead of a user into a root without /etc/passwd', () => {
    const bare = makeRoot(false);
    try {
      const r = install(['controller', '--root', bare, '--controller-name', 'ctl.mgmt', '--controller-name', '10.255.0.1']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^note: no .*\/etc\/passwd: user cordon not created; .*chown cordon:cordon \/etc\/cordon\/pki\/controller\.key/m);
      expect(existsSync(join(bare, 'etc/passwd'))).toBe(false);
      expect(mode(join(bare, 'etc/cordon/pki/controller.key'))).toBe(0o600);
      const san = spawnSync('openssl', ['x509', '-in', join(bare, 'etc/cordon/pki/controller.crt'), '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
      expect(san.stdout).toMatch(/DNS:ctl\.mgmt, IP Address:10\.255\.0\.1/);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it('refuses clearly when the package is not built or the arguments are wrong', () => {
    const checkout = mkdtempSync(join(tmpdir(), 'cordon-unbuilt-'));
    try {
      mkdirSync(join(checkout, 'deploy'));
      copyFileSync(INSTALL, join(checkout, 'deploy/install.sh'));
      chmodSync(join(checkout, 'deploy/install.sh'), 0o755);
      const unbuilt = install(['agent', '--root', checkout], join(checkout, 'deploy/install.sh'));
      expect(unbuilt.code).toBe(1);
      expect(unbuilt.stderr).toMatch(/dist\/controller\/main\.js is missing: run npm run build first/);
      expect(existsSync(join(checkout, 'opt'))).toBe(false);
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
    const noRole = install(['--root', dirname(INSTALL)]);
    expect(noRole.code).toBe(2);
    expect(noRole.stderr).toMatch(/usage: deploy\/install\.sh controller\|agent/);
    const badPrefix = install(['agent', '--prefix', 'relative/dir']);
    expect(badPrefix.code).toBe(1);
    expect(badPrefix.stderr).toMatch(/--prefix must be an absolute path/);
  });
});
