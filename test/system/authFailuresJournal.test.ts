import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Guard } from '../../agent/guard/Guard.js';
import { GuardStateFile } from '../../agent/guard/GuardStateFile.js';
import type { BanEvent, ManagedSecurity } from '../../proto/gen/cordon/v1/agent.js';
import { parseCidr } from '../../proto/runtime/cidr.js';
import { ExecRunner, type CommandResult, type CommandRunner, type RunOptions } from '../../proto/runtime/CommandRunner.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { NetLab, inNs } from '../helpers/netns.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';

const JOURNALD = '/lib/systemd/systemd-journald';
const base = systemTestGate(['ip', 'nft', 'unshare', 'nsenter', 'journalctl', 'systemd-cat']);
const gate = base.ok && !existsSync(JOURNALD) ? { ok: false, reason: `needs ${JOURNALD} (apt-get install -y systemd)` } : base;
explainSkip('authFailuresJournal.test.ts', gate);

const SSH_FAIL = join(REPO_ROOT, 'test/helpers/bin/ssh-fail.mjs');

/** nft and the rest in the lab host's namespace; journalctl in the private journal's mount namespace. */
class LabRunner implements CommandRunner {
  private readonly inner: ExecRunner;
  constructor(
    netns: string,
    private readonly journalPid: number,
  ) {
    this.inner = new ExecRunner(netns);
  }
  run(command: string, args: string[], opts?: RunOptions): Promise<CommandResult> {
    if (command !== 'journalctl') return this.inner.run(command, args, opts);
    return new ExecRunner().run('nsenter', ['-t', String(this.journalPid), '-m', '--', 'journalctl', ...args], opts);
  }
}

/**
 * Failed logins read from a real journal: a real systemd-journald (in a
 * mount namespace of its own, so the machine's journal, if any, is not
 * touched), a real sshd in the lab host's namespace whose log lines go to
 * that journal as sshd's (systemd-cat -t sshd), and real SSH clients from
 * the internet namespace that try a user the server does not have. The
 * connection meter is set far above what they do: the ban comes from the
 * journal.
 */
describe.skipIf(!gate.ok)('failed logins from the journal, for real', () => {
  let lab: NetLab;
  let work: string;
  let journald: ChildProcess;
  let sshd: Sshd;
  let guard: Guard;
  let relayed = 0;
  let relay: NodeJS.Timeout;
  const events: BanEvent[] = [];

  const policy: ManagedSecurity = {
    enabled: true,
    services: [{ name: 'ssh', ports: [22], newConnectionsPerMinute: 600, burst: 200 }],
    baseBanSeconds: 600,
    maxBanSeconds: 3600,
    forgetAfterSeconds: 86_400,
    allowed: [],
    liftedBanIds: [],
    maxBans: 100,
    listenerCheckSeconds: 0,
    authFailures: 5,
    authWindowSeconds: 600,
    acknowledgesBanEvents: false,
  };
  const fail = (n: number) => JSON.parse(inNs(lab.internet, process.execPath, SSH_FAIL, lab.addr.hostPub4, '22', String(n)).trim()) as { failed: number; refused: number; other: number };
  const journal = (...args: string[]) => spawnSync('nsenter', ['-t', String(journald.pid), '-m', '--', ...args], { encoding: 'utf8' });

  beforeAll(async () => {
    lab = NetLab.create('jrnl');
    work = mkdtempSync(join(tmpdir(), 'cordon-jrnl-'));
    journald = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/journal /run/log && mount -t tmpfs tmpfs /run/log && exec ${JOURNALD}`], { stdio: 'ignore' });
    lab.track(journald);
    await waitFor('the private journal', () => journal('test', '-S', '/run/systemd/journal/stdout').status === 0, 5_000);
    sshd = await startSshd({ netns: lab.host, listenAddress: '0.0.0.0', port: 22 });
    // sshd's own lines (-e), each handed to the journal as sshd's: what its syslog would have written there.
    relay = setInterval(() => {
      const lines = sshd.log().split('\n').slice(0, -1);
      if (lines.length <= relayed) return;
      spawnSync('nsenter', ['-t', String(journald.pid), '-m', '--', 'systemd-cat', '-t', 'sshd'], { input: lines.slice(relayed).join('\n') + '\n' });
      relayed = lines.length;
    }, 100);
    guard = new Guard({
      runner: new LabRunner(lab.host, journald.pid!),
      log: silentLogger(),
      clock: () => new Date(),
      publicInterfaces: ['pub0'],
      managementNetworks: [parseCidr(lab.addr.mgmtNet4)],
      file: new GuardStateFile(join(work, 'state')),
      send: async (e) => {
        events.push(e);
        return true;
      },
      tickMs: 60_000,
    });
    await guard.setPolicy(policy);
  }, 30_000);

  afterAll(async () => {
    clearInterval(relay);
    await guard?.stop();
    sshd?.stop();
    lab?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a few failed logins ban nothing', async () => {
    expect(fail(3).failed).toBe(3);
    await waitFor('the lines in the journal', () => (journal('journalctl', '-q', '--no-pager', 'SYSLOG_IDENTIFIER=sshd').stdout.match(/Invalid user nosuchuser/g) ?? []).length === 3);
    await guard.tick();
    expect(guard.bans()).toEqual([]);
  }, 30_000);

  it('more than the limit within the window bans the source: its next connection is refused', async () => {
    expect(fail(3).failed).toBe(3);
    await waitFor('the lines in the journal', () => (journal('journalctl', '-q', '--no-pager', 'SYSLOG_IDENTIFIER=sshd').stdout.match(/Invalid user nosuchuser/g) ?? []).length === 6);
    await guard.tick();
    const ban = guard.bans()[0]!;
    expect(ban).toMatchObject({ address: lab.addr.inet4, services: ['ssh'], offence: 1, seconds: 600 });
    expect(events.some((e) => e.change === 'banned' && e.address === lab.addr.inet4)).toBe(true);
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('refused');
  }, 30_000);
});
