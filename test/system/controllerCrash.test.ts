import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { createEngine } from '../../agent/createEngine.js';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { runDaemon, type RunningAgent } from '../../agent/runDaemon.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { freePort } from '../helpers/freePort.js';
import { NetLab, inNs } from '../helpers/netns.js';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';
import { SmtpSink } from '../unit/mail/smtpSink.js';

const run = promisify(execFile);
const gate = systemTestGate(['ip', 'nft', 'tc', 'openssl']);
explainSkip('controllerCrash.test.ts', gate);

/**
 * kill -9 of the real cordon-controller process after it committed an
 * enforcement and before any agent heard of it: the restarted controller
 * delivers it, exactly once.
 */
describe.skipIf(!gate.ok)('a controller killed between escalation and dispatch', () => {
  let lab: NetLab;
  let pki: TestPki;
  let work: string;
  let sink: SmtpSink;
  let port: number;
  let controller: ChildProcess | undefined;
  let agent: RunningAgent | undefined;
  const received: bigint[] = [];

  const startController = async () => {
    controller = spawn(process.execPath, ['--disable-warning=DEP0123', join(DIST, 'controller/main.js'), '--config', join(work, 'controller.json')], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitFor('the controller to answer', async () => (await ctl('health')).trim() === 'SERVING', 10_000, 100);
  };
  const ctl = async (...args: string[]) =>
    (await run(process.execPath, ['--disable-warning=DEP0123', join(DIST, 'controller/cli/cordonctl.cjs'), '--controller', `127.0.0.1:${port}`, '--server-name', 'localhost', '--pki', pki.dir, '--operator', 'olga', ...args])).stdout;

  beforeAll(async () => {
    lab = NetLab.create('crash');
    pki = new TestPki();
    pki.agent('web-01');
    pki.operator('olga', 'abuse_operator');
    work = mkdtempSync(join(tmpdir(), 'cordon-crash-'));
    sink = await SmtpSink.start();
    port = await freePort();
    writeFileSync(
      join(work, 'inventory.json'),
      JSON.stringify({
        hosts: [{ id: 'web-01', customerId: 'acme', publicPrefixes: [`${lab.addr.hostPub4}/32`], managementAddress: lab.addr.hostMgmt4 }],
        customers: [{ id: 'acme', name: 'ACME', email: 'ops@acme.example' }],
      }),
    );
    writeFileSync(
      join(work, 'controller.json'),
      JSON.stringify({
        listen: `127.0.0.1:${port}`,
        tls: { ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, 'controller.crt'), key: join(pki.dir, 'controller.key'), revokedSerialsFile: pki.revokedFile },
        inventory: { file: join(work, 'inventory.json') },
        store: { path: join(work, 'cordon.db') },
        metrics: { listen: '127.0.0.1:0' },
        mail: { smtp: { host: '127.0.0.1', port: sink.port }, from: 'abuse@provider.example', replyTo: 'abuse@provider.example' },
        log: { level: 'warn' },
      }),
    );
    writeFileSync(
      join(work, 'agent.json'),
      JSON.stringify({
        hostId: 'web-01',
        controller: { address: `127.0.0.1:${port}`, serverName: 'localhost' },
        tls: { ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, 'agent-web-01.crt'), key: join(pki.dir, 'agent-web-01.key') },
        heartbeatSeconds: 1,
        reconnect: { initialMs: 100, maxMs: 500 },
        interfaces: { public: ['pub0'], management: ['mgmt0'] },
        managementNetworks: [lab.addr.mgmtNet4],
        stateDir: join(work, 'agent-state'),
      }),
    );
    await startController();
  });
  afterAll(async () => {
    await agent?.stop();
    controller?.kill('SIGKILL');
    await sink?.close();
    lab?.destroy();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('delivers the enforcement after restart, exactly once', async () => {
    // DDoS from a CERT: an immediate category, escalated and decided at intake.
    const submitted = JSON.parse(await ctl('complaint', 'submit', '--ip', lab.addr.hostPub4, '--category', 'ddos', '--reporter-kind', 'cert', '--reporter', 'cert@cert.example', '--json'));
    const shown = JSON.parse(await ctl('incident', 'show', submitted.incidentId, '--json'));
    expect(shown.incident.state).toBe('enforcing');
    const host = JSON.parse(await ctl('host', 'show', 'web-01', '--json'));
    expect(host).toMatchObject({ generation: '1', dispatch: 'DISPATCH_STATUS_UNREACHABLE' });

    controller!.kill('SIGKILL');
    await new Promise((r) => controller!.once('exit', r));
    await startController();

    const settings = loadAgentConfig({ file: join(work, 'agent.json') }).getProperties();
    const engine = createEngine(settings, silentLogger(), new ExecRunner(lab.host));
    const converge = engine.converge.bind(engine);
    engine.converge = async (d) => {
      received.push(d.generation);
      return converge(d);
    };
    agent = await runDaemon(settings, pki.material('agent-web-01'), engine, silentLogger());
    await waitFor('the incident to be enforced', async () => JSON.parse(await ctl('incident', 'show', submitted.incidentId, '--json')).incident.state === 'enforced', 15_000, 200);
    expect(received).toEqual([1n]);
    expect(inNs(lab.host, 'tc', 'qdisc', 'show', 'dev', 'pub0')).toMatch(/clsact/);
    expect(JSON.parse(await ctl('host', 'show', 'web-01', '--json'))).toMatchObject({ generation: '1', appliedGeneration: '1', dispatch: 'DISPATCH_STATUS_APPLIED' });
    // The notice reached the customer too, once the relay was there.
    await waitFor('the notice', () => sink.received.some((m) => m.raw.toString().includes(`X-Cordon-Incident: ${submitted.incidentId}`)), 10_000);
  });
});
