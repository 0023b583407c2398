import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DIST } from '../helpers/paths.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';

const gate = systemTestGate(['ip', 'ss', 'nft', 'tc', 'openssl', 'ipmi_sim', 'ipmitool', 'sshd', 'ssh-keygen']);
explainSkip('labDemo.test.ts', gate);

const LAB_DIR = '/run/cordon-lab';

function labNamespaces(): string[] {
  return (spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith('cordon-lab-'));
}

function run(script: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(DIST, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * The README's main command, for real: `npm run demo` builds the namespace
 * lab (controller, agents, ipmi_sim BMCs, SMTP receiver, internet sink),
 * tells the story with probes, and leaves nothing behind. Plus `lab up` and
 * `lab down` on their own: replacing a lab left running, and idempotent
 * teardown.
 */
describe.skipIf(!gate.ok)('the lab and the demo', () => {
  afterAll(async () => {
    await run('deploy/lab/main.js', ['down'], 30_000);
  });

  it('runs the whole story, every check passing, and tears the lab down', async () => {
    const r = await run('deploy/demo/main.js', [], 360_000);
    if (r.code !== 0) process.stderr.write(r.out);
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/\bFAIL\b/);
    for (const claim of [
      /PASS the complaint opened an incident for web-01 alone/,
      /PASS the customer's notice was delivered by SMTP \(to ops@acme.example/,
      /PASS from web-01: port 25 refused, port 80 still fine/,
      /PASS web-02, same customer, is untouched/,
      /PASS the controller checked web-01's BMC before cutting/,
      /PASS web-01's public side is cut/,
      /PASS the management network still reaches web-01/,
      /PASS web-01's BMC still answers/,
      /PASS the notice carries the customer's own page link/,
      /PASS the customer's answer on the page is the incident's own event, by the customer/,
      /PASS web-01 works again/,
      // The escape (deploy/demo/escapeChapter.ts): web-02's customer kills its agent and flushes its rules.
      /PASS web-02 is cut: its agent confirms, and from the internet 203\.0\.113\.12:22 does not answer/,
      /PASS for a moment web-02 is reachable again from the internet/,
      /PASS the switch shut web-02's port \(swp2 on cordon-lab-sw, read from the switch\) within the window, a sweep and the SSH call \([\d.]+ s after the escape\)/,
      /PASS from the internet 203\.0\.113\.12:22 no longer answers/,
      /PASS the incident records the switch holding the cut, with why/,
      /PASS the management network still reaches web-02 \(10\.70\.0\.12:22 connected\) and its BMC answers ipmitool from there \(ipmitool mc info/,
      /PASS the customer was told of the cut and how to reach the console/,
      /PASS with the agent gone the release is not claimed done/,
      /PASS the switch reopened web-02's port/,
      /PASS nothing told the customer the restrictions were lifted yet/,
      /PASS only once the port is up, the agent is back and traffic flows from the internet does the incident read released \(or closed\) \(states releasing → .*(released|closed); then the agent connected, from the internet connected\)/,
      /PASS then the customer is told the restrictions are lifted/,
      /PASS the abuse desk opens in a browser on this machine with olga's certificate \(\.p12\)/,
      /PASS the hash-chained audit log verifies/,
      /demo passed in [\d.]+ s/,
    ]) {
      expect(r.out).toMatch(claim);
    }
    expect(labNamespaces()).toEqual([]);
    expect(existsSync(LAB_DIR)).toBe(false);
    // The page bridge on this machine's loopback lives in no lab namespace: it must be gone too.
    expect(spawnSync('pgrep', ['-f', 'socketBridge.js'], { encoding: 'utf8' }).stdout.trim()).toBe('');
  }, 370_000);

  it('lab up replaces a lab left running; lab down removes every namespace, process and file, twice over', async () => {
    const first = await run('deploy/lab/main.js', ['up', '--hosts', '1'], 60_000);
    expect(first.code).toBe(0);
    const info = JSON.parse(readFileSync(join(LAB_DIR, 'lab.json'), 'utf8')) as { topology: { mgmtNs: string } };
    const oldPids = (spawnSync('ip', ['netns', 'pids', info.topology.mgmtNs], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean).map(Number);
    expect(oldPids.length).toBeGreaterThanOrEqual(3); // controller, mail receiver, BMC

    // As if the previous run had crashed: everything still there.
    const second = await run('deploy/lab/main.js', ['up', '--hosts', '2'], 60_000);
    expect(second.code).toBe(0);
    expect(oldPids.filter(alive)).toEqual([]);
    expect(labNamespaces().sort()).toEqual(['cordon-lab-h1', 'cordon-lab-h2', 'cordon-lab-inet', 'cordon-lab-mgmt', 'cordon-lab-sw']);
    const status = await run('deploy/lab/main.js', ['status'], 30_000);
    expect(status.out).toMatch(/web-02\s+connected/);

    const pids = labNamespaces().flatMap((ns) => (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean).map(Number));
    const down = await run('deploy/lab/main.js', ['down'], 30_000);
    expect(down.code).toBe(0);
    expect(labNamespaces()).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(LAB_DIR)).toBe(false);
    const again = await run('deploy/lab/main.js', ['down'], 30_000);
    expect(again).toMatchObject({ code: 0, out: expect.stringContaining('no lab was up') });
  }, 150_000);
});
