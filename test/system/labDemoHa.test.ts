import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DIST } from '../helpers/paths.js';
import { pgMissing } from '../helpers/pgCluster.js';
import { systemTestGate } from '../helpers/systemGate.js';

const gate = systemTestGate(['ip', 'ss', 'nft', 'tc', 'openssl', 'ipmi_sim', 'ipmitool', 'sshd', 'ssh-keygen']);
const skip = gate.ok ? pgMissing() : gate.reason;
if (skip) console.warn(`SKIP test/system/labDemoHa.test.ts: ${skip}`);

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

const pgrep = (pattern: string) => spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.trim();

/**
 * `npm run demo -- --ha`: the demo's story on a throw-away PostgreSQL
 * cluster with three controller replicas, the one holding web-01's agent
 * stream killed with kill -9 while web-01 is cut off. Every check of the
 * story still passes through the survivors, the kill and the reconnection
 * are told, and nothing is left: namespaces, processes, the lab folder and
 * the cluster's folder.
 */
describe.skipIf(skip !== undefined)('the demo on three replicas (--ha)', () => {
  afterAll(async () => {
    await run('deploy/lab/main.js', ['down'], 30_000);
  });

  it('tells the whole story through the survivors of a killed replica, and tears everything down', async () => {
    const r = await run('deploy/demo/main.js', ['--ha'], 360_000);
    if (r.code !== 0) process.stderr.write(r.out);
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/\bFAIL\b/);
    expect(r.out).toMatch(/starting 3 cordon-controller replicas on one database: replica-a on 10\.70\.0\.1:7443, replica-b on 10\.70\.0\.1:7444, replica-c on 10\.70\.0\.1:7445/);
    const killed = /killing (replica-[abc]) \(kill -9, pid \d+\), which holds web-01's stream/.exec(r.out)?.[1];
    const back = /web-01's agent is back on (replica-[abc]) after ([\d.]+) s/.exec(r.out);
    expect(killed).toBeDefined();
    expect(back?.[1]).toBeDefined();
    expect(back?.[1]).not.toBe(killed);
    expect(Number(back?.[2])).toBeLessThan(20);
    for (const claim of [
      /PASS the complaint opened an incident for web-01 alone/,
      /PASS the customer's notice was delivered by SMTP \(to ops@acme.example/,
      /PASS from web-01: port 25 refused, port 80 still fine/,
      /PASS web-01's public side is cut/,
      /PASS the database names the replica holding web-01's agent stream/,
      /PASS web-01's agent reconnected to a surviving replica/,
      /PASS web-01 is still cut with its agent on replica-[abc]/,
      /PASS every agent is connected to a survivor/,
      /PASS the customer's answer on the page is the incident's own event, by the customer/,
      /PASS the agent removed every enforcement and the incident closed/,
      /PASS web-01 works again/,
      /PASS the customer got the closing mail/,
      /PASS the replay is recognised as a duplicate/,
      /PASS the abuse desk opens in a browser on this machine with olga's certificate \(\.p12\)/,
      /PASS the switch shut web-02's port \(swp2 on cordon-lab-sw, read from the switch\) within the window/,
      /PASS only once the port is up, the agent is back and traffic flows from the internet does the incident read released/,
      /PASS the hash-chained audit log verifies/,
      /demo passed in [\d.]+ s/,
    ]) {
      expect(r.out).toMatch(claim);
    }
    // The kill comes after the cut is checked and before the customer answers.
    expect(r.out.indexOf('killing replica-')).toBeGreaterThan(r.out.indexOf("PASS web-01's public side is cut"));
    expect(r.out.indexOf('killing replica-')).toBeLessThan(r.out.indexOf('the customer opens the link'));

    const cluster = /started a throw-away PostgreSQL cluster in (\S+)/.exec(r.out)?.[1];
    expect(cluster).toMatch(/cordon-pg-/);
    expect(r.out).toContain(`stopped the PostgreSQL cluster and removed ${cluster}`);
    expect(existsSync(cluster!)).toBe(false);
    expect(pgrep(cluster!)).toBe('');
    expect(pgrep(`${LAB_DIR}/replica-`)).toBe('');
    expect(pgrep('socketBridge.js')).toBe('');
    expect(labNamespaces()).toEqual([]);
    expect(existsSync(LAB_DIR)).toBe(false);
  }, 370_000);
});
