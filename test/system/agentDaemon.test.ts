import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetLab, inNs } from '../helpers/netns.js';
import { DIST, REPO_ROOT } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';

const gate = systemTestGate(['ip', 'nft', 'tc', 'openssl']);
explainSkip('agentDaemon.test.ts', gate);

type Event = { event: string; host?: string; generation?: string; results?: { id: string; status: number; error?: string }[]; found?: string[]; restored?: string[]; msg?: string };

/**
 * The whole path for real: a controller inside the management namespace, the
 * agent daemon inside the host namespace, mutual TLS between them over the
 * management veth, and probes that show what the packets experience.
 */
describe.skipIf(!gate.ok)('the agent daemon against a controller on the management network', () => {
  let lab: NetLab;
  let pki: TestPki;
  let work: string;
  let controller: ChildProcess;
  let agent: ChildProcess | undefined;
  const events: Event[] = [];
  let agentConfig: string;

  const send = (host: string, enforcements: unknown[]) => controller.stdin!.write(JSON.stringify({ host, enforcements }) + '\n');
  const startAgent = () => {
    agent = lab.track(
      spawn('ip', ['netns', 'exec', lab.host, process.execPath, join(DIST, 'agent/main.js'), '--config', agentConfig], { stdio: ['ignore', 'ignore', 'inherit'] }),
    );
    return agent;
  };
  const tableExists = () => spawnSync('ip', ['netns', 'exec', lab.host, 'nft', 'list', 'table', 'inet', 'cordon']).status === 0;
  const reportFor = (generation: string) => events.find((e) => e.event === 'report' && e.generation === generation);

  beforeAll(async () => {
    lab = NetLab.create('daemon');
    pki = new TestPki();
    pki.agent('web-01');
    work = mkdtempSync(join(tmpdir(), 'cordon-daemon-'));
    const controllerConfig = join(work, 'controller.json');
    writeFileSync(
      controllerConfig,
      JSON.stringify({
        listen: `${lab.addr.mgmt4}:7443`,
        pkiDir: pki.dir,
        hosts: [{ id: 'web-01', customerId: 'c1', publicPrefixes: ['203.0.113.10/32'], managementAddress: lab.addr.hostMgmt4 }],
      }),
    );
    // The controller certificate must name the management address the agent dials.
    rmSync(join(pki.dir, 'controller.crt'));
    rmSync(join(pki.dir, 'controller.key'));
    pki.run('issue-controller', 'localhost', lab.addr.mgmt4);
    controller = lab.track(
      spawn('ip', ['netns', 'exec', lab.mgmt, process.execPath, join(REPO_ROOT, 'test/helpers/bin/lab-controller.mjs'), controllerConfig], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    createInterface({ input: controller.stdout! }).on('line', (line) => events.push(JSON.parse(line) as Event));
    await waitFor('the controller to listen', () => events.some((e) => e.event === 'listening'));

    agentConfig = join(work, 'agent.json');
    writeFileSync(
      agentConfig,
      JSON.stringify({
        hostId: 'web-01',
        controller: { address: `${lab.addr.mgmt4}:7443` },
        tls: { ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, 'agent-web-01.crt'), key: join(pki.dir, 'agent-web-01.key') },
        heartbeatSeconds: 1,
        reconnect: { initialMs: 100, maxMs: 1000 },
        interfaces: { public: ['pub0'], management: ['mgmt0'] },
        managementNetworks: [lab.addr.mgmtNet4, lab.addr.mgmtNet6],
        driftCheckSeconds: 1,
        stateDir: join(work, 'state'),
        log: { level: 'warn' },
      }),
    );
    await lab.listen(lab.internet, [25, 80]);
    await lab.listen(lab.host, [22]);
    startAgent();
    await waitFor('the agent to connect', () => events.some((e) => e.event === 'session' && e.msg === 'agent connected'));
  });
  afterAll(() => {
    lab?.destroy();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('applies an SMTP block sent by the controller and reports it applied', async () => {
    send('web-01', [{ id: 'enf-1', incidentId: 'inc-1', reason: 'spam, unanswered', smtpBlock: {} }]);
    const report = await waitFor('the report for generation 1', () => reportFor('1'));
    expect(report.results).toEqual([{ id: 'enf-1', status: 1 }]);
    expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('refused');
    expect(lab.probe(lab.host, lab.addr.inet4, 80)).toBe('connected');
  });

  it('keeps its gRPC link to the controller while the host is isolated', async () => {
    send('web-01', [{ id: 'enf-2', incidentId: 'inc-2', reason: 'malware', isolate: {} }]);
    await waitFor('the report for generation 2', () => reportFor('2'));
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22, 800)).toBe('timeout');
    const connectedBefore = events.filter((e) => e.msg === 'agent stream ended' || e.msg === 'agent disconnected').length;
    // The link survives: a further state still arrives and is reported.
    send('web-01', [{ id: 'enf-3', incidentId: 'inc-2', reason: 'malware', isolate: {} }, { id: 'enf-4', incidentId: 'inc-1', reason: 'spam', smtpBlock: {} }]);
    const report = await waitFor('the report for generation 3', () => reportFor('3'));
    expect(report.results!.map((r) => r.status)).toEqual([1, 1]);
    expect(events.filter((e) => e.msg === 'agent stream ended' || e.msg === 'agent disconnected').length).toBe(connectedBefore);
    expect(lab.probe(lab.mgmt, lab.addr.hostMgmt4, 22)).toBe('connected');
  });

  it('repairs a deleted table within one drift period and reports the tampering', async () => {
    inNs(lab.host, 'nft', 'delete', 'table', 'inet', 'cordon');
    const tamper = await waitFor('a tamper event', () => events.find((e) => e.event === 'tamper'), 5_000);
    expect(tamper.found).toEqual(['nft table inet cordon missing']);
    expect(tableExists()).toBe(true);
  });

  it('repairs a deleted tc throttle as well', async () => {
    send('web-01', [{ id: 'enf-5', incidentId: 'inc-2', reason: 'malware', isolate: {} }, { id: 'enf-6', incidentId: 'inc-3', reason: 'ddos', throttle: { rateBps: '10000000' } }]);
    const report = await waitFor('the report for generation 4', () => reportFor('4'));
    expect(report.results!.map((r) => r.status)).toEqual([1, 1]);
    const tampers = events.filter((e) => e.event === 'tamper').length;
    inNs(lab.host, 'tc', 'qdisc', 'del', 'dev', 'pub0', 'clsact');
    const tamper = await waitFor('a second tamper event', () => events.filter((e) => e.event === 'tamper')[tampers], 5_000);
    expect(tamper.found).toEqual(['tc throttle on pub0 missing or altered']);
    expect(inNs(lab.host, 'tc', 'qdisc', 'show', 'dev', 'pub0')).toMatch(/clsact/);
  });

  it('keeps enforcing through kill -9 and re-applies at start with no gap', async () => {
    agent!.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
    expect(tableExists()).toBe(true);
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22, 800)).toBe('timeout');
    const restarted = startAgent();
    // Watch the table through the restart: it must never be missing.
    let missing = 0;
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) if (!tableExists()) missing++;
    expect(missing).toBe(0);
    expect(restarted.exitCode).toBeNull();
  });

  it('apply-saved restores everything after a "reboot" flushed it', async () => {
    agent!.kill('SIGTERM');
    await new Promise((r) => agent!.once('exit', r));
    // What a reboot leaves: no table, no qdiscs, no ifb devices.
    inNs(lab.host, 'nft', 'delete', 'table', 'inet', 'cordon');
    inNs(lab.host, 'tc', 'qdisc', 'del', 'dev', 'pub0', 'clsact');
    const ifbs = (JSON.parse(inNs(lab.host, 'ip', '-j', 'link', 'show')) as { ifname: string }[]).filter((l) => /^cdn[ei]\d+$/.test(l.ifname));
    expect(ifbs).toHaveLength(2);
    for (const l of ifbs) inNs(lab.host, 'ip', 'link', 'del', l.ifname);
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
    const r = spawnSync('ip', ['netns', 'exec', lab.host, process.execPath, join(DIST, 'agent/main.js'), '--config', agentConfig, 'apply-saved'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/APPLIED isolate enf-5/);
    expect(r.stdout).toMatch(/APPLIED throttle enf-6/);
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22, 800)).toBe('timeout');
    expect(inNs(lab.host, 'tc', 'qdisc', 'show', 'dev', 'pub0')).toMatch(/clsact/);
  });

  it('follows an operator\'s release-all run beside the daemon instead of undoing it', async () => {
    startAgent();
    await waitFor('the agent to reconnect', () => events.filter((e) => e.msg === 'agent connected').length >= 3, 10_000);
    const tampers = events.filter((e) => e.event === 'tamper').length;
    const r = spawnSync('ip', ['netns', 'exec', lab.host, process.execPath, join(DIST, 'agent/main.js'), '--config', agentConfig, 'release-all'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const tamper = await waitFor('the controller to hear of it', () => events.filter((e) => e.event === 'tamper')[tampers], 5_000);
    expect(tamper.found![0]).toMatch(/released by cordon-agent release-all/);
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // two drift periods
    expect(tableExists()).toBe(false);
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
  });
});
