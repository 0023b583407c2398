import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { createEngine, createWatcher } from '../../agent/createEngine.js';
import { procSentCounters } from '../../agent/detect/interfaceCounters.js';
import { runDaemon, type RunningAgent } from '../../agent/runDaemon.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { NetLab, inNs } from '../helpers/netns.js';
import { TestPki } from '../helpers/pki.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';

const gate = systemTestGate(['ip', 'nft', 'openssl', 'bash', 'timeout']);
explainSkip('ownMonitoring.test.ts', gate);

const WINDOW_S = 5;

/**
 * Cordon sees for itself (issue 17): a real agent counts new outbound
 * connections with real nft in the host's namespace, a real controller
 * turns what passes a threshold into a complaint from own_monitoring, and
 * the traffic itself is real (bash's /dev/tcp from the host namespace).
 */
describe.skipIf(!gate.ok)('outbound abuse seen on the host, for real', () => {
  let lab: NetLab;
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  let agent: RunningAgent | undefined;

  /** `n` new TCP connections from the host to `target`:`port`, one after another, each closed at once or after 300 ms without an answer. */
  const connect = (targets: string[], port: number) =>
    inNs(lab.host, 'bash', '-c', `for t in ${targets.join(' ')}; do timeout 0.3 bash -c "exec 3<>/dev/tcp/$t/${port}" 2>/dev/null & done; wait; true`);
  const repeat = (n: number, target: string) => Array.from({ length: n }, () => target);
  const incidentsOf = async (category: string) => (await controller.store.incidents.list({})).filter((i) => i.hostId === 'web-01' && i.category === category);

  beforeAll(async () => {
    lab = NetLab.create('watch');
    await lab.listen(lab.internet, [25, 80]);
    pki = new TestPki();
    pki.agent('web-01');
    work = mkdtempSync(join(tmpdir(), 'cordon-watch-'));
    const store = await Store.open(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME Hosting Ltd', email: 'ops@acme.example' });
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: [`${lab.addr.hostPub4}/32`], managementAddress: lab.addr.hostMgmt4 });
    controller = await runController(
      controllerSettings(pki, store, {
        detection: {
          policy: { enabled: true, windowSeconds: WINDOW_S, smtpPorts: [25, 465, 587], smtpNewConnections: 20, fanoutPorts: [22, 3389], fanoutDestinations: 8, floodPacketsPerSecond: 2_000, floodMaxAverageBytes: 512 },
          minIntervalMs: 600_000,
        },
      }),
    );
    const file = join(work, 'agent.json');
    writeFileSync(
      file,
      JSON.stringify({
        hostId: 'web-01',
        controller: { address: `127.0.0.1:${controller.server.port}`, serverName: 'localhost' },
        heartbeatSeconds: 1,
        reconnect: { initialMs: 100, maxMs: 500 },
        interfaces: { public: ['pub0'], management: ['mgmt0'] },
        managementNetworks: [lab.addr.mgmtNet4],
        stateDir: join(work, 'agent-state'),
      }),
    );
    const s = loadAgentConfig({ file }).getProperties();
    const runner = new ExecRunner(lab.host);
    // The agent runs in this process, outside the host's namespace: its flood gate reads the namespace's
    // interface counters through a process that lives there (/proc/PID/net is PID's namespace).
    const resident = lab.track(spawn('ip', ['netns', 'exec', lab.host, 'sleep', '600'], { stdio: 'ignore' }));
    await waitFor('a process in the host namespace', () => existsSync(`/proc/${resident.pid}/net/dev`) && readFileSync(`/proc/${resident.pid}/net/dev`, 'utf8').includes('pub0:'));
    agent = await runDaemon(s, pki.material('agent-web-01'), createEngine(s, silentLogger(), runner), silentLogger(), {
      createWatcher: (send) => createWatcher(s, silentLogger(), send, runner, procSentCounters(['pub0'], `/proc/${resident.pid}/net/dev`)),
    });
    await waitFor('the agent to connect', () => controller.server.sessions.get('web-01')?.state === 'connected');
    await waitFor('the watch table', () => inNs(lab.host, 'nft', 'list', 'tables').includes('inet cordon_watch'));
  });
  afterAll(async () => {
    await agent?.stop();
    await controller?.stop(500);
    await controller?.store.close();
    lab?.destroy();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('lets traffic pass as before and files nothing below the thresholds (a normal mail server, a few ssh sessions)', async () => {
    expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('connected');
    connect(repeat(15, lab.addr.inet4), 25);
    connect(['203.0.113.40', '203.0.113.41', '203.0.113.42'], 22);
    await new Promise((r) => setTimeout(r, (2 * WINDOW_S + 1) * 1000));
    expect(await incidentsOf('spam')).toEqual([]);
    expect(await incidentsOf('scan')).toEqual([]);
    expect(lab.probe(lab.host, lab.addr.inet4, 80)).toBe('connected');
  });

  it('turns an SMTP flood into a trusted own_monitoring complaint and an incident within one window', async () => {
    const started = Date.now();
    // 60 against a threshold of 20: even split across two windows, each half passes it.
    connect(repeat(60, lab.addr.inet4), 25);
    await waitFor('a spam incident from own monitoring', async () => (await incidentsOf('spam')).length === 1, (2 * WINDOW_S + 3) * 1000, 200);
    const [incident] = await incidentsOf('spam');
    const [complaint] = await controller.store.complaints.listByIncident(incident!.id);
    expect(complaint).toMatchObject({ reporter: 'cordon-agent', reporterKind: 'own_monitoring', trusted: true, ip: lab.addr.hostPub4, category: 'spam' });
    expect(complaint!.evidence).toMatch(new RegExp(`counted (2\\d|[3-9]\\d) new outbound connections to SMTP ports .* over the threshold of 20\\.\\nBusiest destinations \\(new connections\\): ${lab.addr.inet4.replaceAll('.', '\\.')} \\(\\d+\\)\\.`));
    expect(Date.now() - started).toBeLessThan((2 * WINDOW_S + 3) * 1000);
    // Counting never blocked anything.
    expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('connected');
  });

  it('turns a scan (many destinations on a scanning port) into a scan incident', async () => {
    // 20 destinations against a threshold of 8: even split across two windows, each half passes it.
    connect(Array.from({ length: 20 }, (_, i) => `203.0.113.${100 + i}`), 22);
    await waitFor('a scan incident from own monitoring', async () => (await incidentsOf('scan')).length === 1, (2 * WINDOW_S + 3) * 1000, 200);
    const [incident] = await incidentsOf('scan');
    const [complaint] = await controller.store.complaints.listByIncident(incident!.id);
    expect(complaint!.evidence).toMatch(/counted (9|1\d|20) distinct destinations of new outbound connections to scanning ports/);
  });

  it('puts the watch table back when root on the host removes it', async () => {
    inNs(lab.host, 'nft', 'delete', 'table', 'inet', 'cordon_watch');
    expect(inNs(lab.host, 'nft', 'list', 'tables')).not.toContain('cordon_watch');
    await waitFor('the watch table to be back', () => inNs(lab.host, 'nft', 'list', 'tables').includes('inet cordon_watch'), (WINDOW_S + 3) * 1000, 200);
  });

  // Last: a ddos incident from a trusted reporter may be enforced at once, as the policy says.
  it('turns a flood of small packets to one destination into a ddos incident (iperf3, UDP, 64 bytes)', async (ctx) => {
    if (spawnSync('iperf3', ['--version']).error) {
      console.log('SKIP ownMonitoring.test.ts flood: iperf3 is not installed (apt-get install -y iperf3)');
      ctx.skip();
    }
    const server = lab.track(spawn('ip', ['netns', 'exec', lab.internet, 'iperf3', '-s', '-1', '-B', lab.addr.inet4, '-p', '5201'], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 300));
    // Long enough for the gate: a probe of the interface counters every 2 s, then a 3 s sample of destinations.
    // Run without blocking: the agent lives in this process, and its gate probes while the flood runs.
    const client = lab.track(spawn('ip', ['netns', 'exec', lab.host, 'timeout', '20', 'iperf3', '-c', lab.addr.inet4, '-p', '5201', '-u', '-b', '0', '-l', '64', '-t', '8'], { stdio: 'ignore' }));
    await new Promise((r) => client.once('exit', r));
    server.kill('SIGKILL');
    await waitFor('a ddos incident from own monitoring', async () => (await incidentsOf('ddos')).length === 1, (2 * WINDOW_S + 3) * 1000, 200);
    const [incident] = await incidentsOf('ddos');
    const [complaint] = await controller.store.complaints.listByIncident(incident!.id);
    expect(complaint!.evidence).toMatch(new RegExp(`packets \\(estimated from one packet in 16\\) to a single destination .*\\nBusiest destinations \\(packets, average size\\): ${lab.addr.inet4.replaceAll('.', '\\.')} \\(\\d+, ([89]\\d|1[0-2]\\d) bytes\\)`));
  });
});
