import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { createEngine } from '../../agent/createEngine.js';
import { runDaemon, type RunningAgent } from '../../agent/runDaemon.js';
import { countQueue } from '../../controller/desk/deskQueue.js';
import { EnforcementObserver } from '../../controller/dispatch/EnforcementObserver.js';
import type { IncidentState } from '../../controller/incidents/model.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import type { PortState, SwitchDriver, SwitchTarget } from '../../controller/switch/SwitchDriver.js';
import { SshSwitchDriver } from '../../controller/switch/SshSwitchDriver.js';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { createRootLogger, silentLogger } from '../../proto/runtime/logger.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { startListener } from '../helpers/netns.js';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';
import { NamespaceDialer, startSshd, type Sshd } from '../helpers/sshd.js';
import { SwitchLab } from '../helpers/switchLab.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';

const gate = systemTestGate(['ip', 'nft', 'sshd', 'ssh-keygen', 'openssl']);
explainSkip('cutObserved.test.ts', gate);
const run = promisify(execFile);

/** Counts what the fallback asks of the switch, passing every call to the real SSH driver. */
class CountingDriver implements SwitchDriver {
  calls = 0;
  constructor(private readonly real: SwitchDriver) {}
  setPort(t: SwitchTarget, up: boolean, signal?: AbortSignal): Promise<PortState> {
    this.calls++;
    return this.real.setPort(t, up, signal);
  }
  readPort(t: SwitchTarget, signal?: AbortSignal): Promise<PortState> {
    this.calls++;
    return this.real.readPort(t, signal);
  }
}

/**
 * What the desk says is what the network does, against a real agent, a real
 * sshd as the switch and real namespaces: a cut is `confirmed` only on the
 * agent's word for the current generation or the switch's read-back; a
 * switch that changed its host key or refuses the key is not retried in a
 * loop and never claims a cut; the port is handed back to a returning agent
 * only once it confirms its cut; a release is `released` only when
 * confirmed, or finished explicitly when the agent never returns; a renamed
 * public interface and a revoked certificate fall back to the switch.
 */
describe.skipIf(!gate.ok)('cut states are observed, not assumed', () => {
  const lab = new SwitchLab('cobs');
  const ns = lab.ns;
  let sshd: Sshd | undefined;
  let dialer: NamespaceDialer | undefined;
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  let driver: CountingDriver;
  let observer: EnforcementObserver;
  let agent: RunningAgent | undefined;
  let agentFile = '';
  const listeners: ChildProcess[] = [];
  let incidentId = '';

  const target = (s: Sshd, over: Partial<SwitchTarget> = {}): SwitchTarget => ({
    switchId: 'lab-sw-1', address: SwitchLab.SWITCH_MGMT, port: 22, user: s.user, privateKeyFile: s.clientKeyFile,
    hostKeySha256: s.hostKeySha256, vendor: 'linux', hostPort: 'swp1', protectedPorts: ['swp2', 'eth0'], ...over,
  });
  const observed = () => observer.observe('web-01');
  const port = async () => (await controller.store.switches.get('web-01'))!;
  const state = async (id = incidentId): Promise<IncidentState> => (await controller.store.incidents.get(id))!.state;
  const mails = async (id: string, template: string) =>
    (await controller.store.outbox.mailsOfIncident(id, 100)).filter((m) => (m.payload as { template?: string }).template === template).length;
  /** One probe from the host to the internet side, without blocking the controller in this process. */
  const probe = async () => (await run('ip', ['netns', 'exec', ns.host, process.execPath, join(DIST, 'deploy/lab/servers/probe.js'), '203.0.113.1', '80', '600'])).stdout.trim();
  const startAgent = async () => {
    const settings = loadAgentConfig({ file: agentFile }).getProperties();
    const alog = process.env.DBG_AGENT ? createRootLogger({ name: 'agent', level: 'info', fd: 2 }) : silentLogger();
    agent = await runDaemon(settings, pki.material('agent-web-01'), createEngine(settings, alog, new ExecRunner(ns.host)), alog);
  };
  const stopAgent = async () => {
    await agent?.stop();
    agent = undefined;
  };

  beforeAll(async () => {
    lab.build();
    listeners.push(await startListener(ns.inet, [80]), await startListener(ns.mgmt, [7443]), await startListener(ns.host, [22]));
    await lab.bridgePortsUp();
    sshd = await startSshd({ netns: ns.sw, listenAddress: SwitchLab.SWITCH_MGMT, port: 22 });
    const d = (dialer = new NamespaceDialer(ns.mgmt));
    pki = new TestPki();
    pki.agent('web-01');
    work = mkdtempSync(join(tmpdir(), 'cordon-cobs-'));
    const store = await Store.open(join(work, 'cordon.db'));
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.250.0.10' });
    await store.switches.set('web-01', target(sshd));
    driver = new CountingDriver(new SshSwitchDriver({ log: silentLogger(), connectTimeoutMs: 10_000, commandTimeoutMs: 10_000, dial: (t) => d.dial(t.address, t.port ?? 22) }));
    controller = await runController(
      controllerSettings(pki, store, {
        // A short tamper window so the story fits in a test (long enough for a loaded machine); production keeps 600 s.
        switchFallback: { driver, settings: { silentSeconds: 2, tamperThreshold: 3, tamperWindowSeconds: 10, sweepMs: 300 } },
        metricsListen: '127.0.0.1:0',
      }),
    );
    // The same facts the desk reads (the controller's own observer is behind the desk and the metrics).
    observer = new EnforcementObserver(controller.store, controller.agents, () => new Date(), new Date(), undefined, true);
    agentFile = join(work, 'agent.json');
    writeFileSync(agentFile, JSON.stringify({
      hostId: 'web-01',
      controller: { address: `127.0.0.1:${controller.server.port}`, serverName: 'localhost' },
      heartbeatSeconds: 1,
      driftCheckSeconds: 1,
      reconnect: { initialMs: 100, maxMs: 500 },
      interfaces: { public: ['pub0'], management: ['mgmt0'] },
      managementNetworks: ['10.250.0.0/16'],
      stateDir: join(work, 'agent-state'),
    }));
    await startAgent();
    await waitFor('the agent to connect', () => controller.server.sessions.get('web-01')?.state === 'connected');
  }, 60_000);

  afterAll(async () => {
    await stopAgent().catch(() => undefined);
    await controller?.stop(500);
    await controller?.store.close();
    dialer?.close();
    sshd?.stop();
    for (const c of listeners) if (c.exitCode === null) c.kill('SIGKILL');
    lab.destroy();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a cut the agent reports for the current generation reads confirmed', async () => {
    incidentId = await controller.service.enforceHost('web-01', { kind: 'isolate' }, 'C&C traffic seen live', 'olga');
    await controller.service.apply(incidentId, { type: 'operator_override_bmc', operator: 'omar', reason: 'test lab without a BMC' }, 'omar');
    await waitFor('the agent to isolate', async () => (await state()) === 'enforced', 10_000);
    expect(await observed()).toMatchObject({ observed: 'confirmed', reason: expect.stringMatching(/^agent confirmed generation \d+$/) });
    expect(await probe()).not.toBe('connected');
  });

  it('the switch presents another host key, then refuses our key: no cut is claimed, the operator is told, and it is not hammered', async () => {
    // The customer kills the agent and flushes its rules while the switch cannot be trusted.
    await controller.store.switches.set('web-01', target(sshd!, { hostKeySha256: 'SHA256:' + 'A'.repeat(43) }));
    await stopAgent();
    lab.inNs(ns.host, 'nft', 'delete', 'table', 'inet', 'cordon');
    await waitFor('the host key refusal recorded', async () => (await port()).failure?.kind === 'permission', 10_000, 100);
    expect(await port()).toMatchObject({ portDown: false, failure: { error: expect.stringMatching(/presented host key SHA256:.* but SHA256:A+ is pinned/) } });
    expect(lab.kernelAdminUp('swp1')).toBe(true);
    const o = await observed();
    expect(o).toMatchObject({ observed: 'unconfirmed', reason: expect.stringMatching(/agent disconnected since .*; switch failing since .*\(permission: /) });
    // The operator is told: the queue, an alert on the incident, the audit log.
    expect((await countQueue(controller.store, () => false)).byWhy.switch_failed).toBe(1);
    const alerts = (await controller.store.events.list(incidentId)).filter((e) => e.type === 'alert');
    expect(alerts.map((e) => JSON.stringify(e.detail))).toEqual([expect.stringMatching(/no cut or release is claimed through it; next try in 600 s/)]);
    // Nothing retries faster than the switch allows: 20 sweeps later, no second attempt.
    const calls = driver.calls;
    await new Promise((r) => setTimeout(r, 6_000));
    expect(driver.calls).toBe(calls);
    // The key pinned again after checking the console, but a client key the switch refuses: tried at once, refused, told.
    await controller.store.switches.set('web-01', target(sshd!, { privateKeyFile: sshd!.strangerKeyFile }));
    await waitFor('the key refusal recorded', async () => (await port()).failure?.kind === 'unauthenticated', 10_000, 100);
    expect((await port()).portDown).toBe(false);
    expect((await observed()).observed).toBe('unconfirmed');
    // Fixed: the port goes down, the switch holds the cut and says so.
    await controller.store.switches.set('web-01', target(sshd!));
    await waitFor('the port shut', async () => (await port()).portDown, 10_000, 100);
    expect(lab.kernelAdminUp('swp1')).toBe(false);
    expect(await port()).toMatchObject({ failure: undefined, confirmedAt: expect.any(Date) });
    expect(await observed()).toMatchObject({ observed: 'switch_only', reason: expect.stringMatching(/^switch port shut \(confirmed .*\); agent disconnected/) });
    expect((await countQueue(controller.store, () => false)).byWhy.switch_failed).toBe(0);
    expect(await probe()).not.toBe('connected');
  }, 60_000);

  it('the agent comes back while the port is down: the port opens only once the agent confirms its cut, with no gap', async () => {
    const seen: string[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        seen.push(await probe().catch(() => 'error'));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    try {
      await startAgent();
      await waitFor('the port handed back to the agent', async () => !(await port()).portDown, 30_000, 100);
      expect((await port()).reason).toMatch(/the agent is back and confirmed the cut it holds \(generation \d+/);
      expect(lab.kernelAdminUp('swp1')).toBe(true);
      await lab.bridgePortsUp();
      await new Promise((r) => setTimeout(r, 1_500));
      // The agent confirms fast enough that the hand-back can take fewer probes than a fair watch needs.
      await waitFor('a few probes across the hand-back', () => seen.length > 3, 10_000, 100);
    } finally {
      watching = false;
      await watch;
    }
    expect(seen.length).toBeGreaterThan(3);
    expect(seen).not.toContain('connected');
    expect(await observed()).toMatchObject({ observed: 'confirmed' });
  }, 60_000);

  it('the agent reports tampering again: the port goes down and stays down while the tampering lasts', async () => {
    for (let k = 0; k < 4; k++) {
      await waitFor('the agent to restore its table', () => lab.inNs(ns.host, 'nft', 'list', 'tables').includes('cordon'), 10_000, 100);
      lab.inNs(ns.host, 'nft', 'delete', 'table', 'inet', 'cordon');
      await new Promise((r) => setTimeout(r, 300));
    }
    await waitFor('the port shut on tampering', async () => (await port()).portDown, 25_000, 100).catch(async (e: Error) => {
      throw new Error(`${e.message}; port: ${JSON.stringify(await port())}`);
    });
    expect((await port()).reason).toMatch(/tamper reports within 10 s/);
    // The agent has put its table back and confirms, but the tampering is within the window: still shut.
    expect((await port()).portDown).toBe(true);
    await waitFor('the port handed back once the window passed quietly', async () => !(await port()).portDown, 30_000, 200);
    expect(await probe()).not.toBe('connected');
  }, 60_000);

  it('the customer renames the public interface to slip out of the rules: the agent reports it on every check and the switch takes the cut', async () => {
    lab.inNs(ns.host, 'ip', 'link', 'set', 'pub0', 'down');
    lab.inNs(ns.host, 'ip', 'link', 'set', 'pub0', 'name', 'pubx');
    lab.inNs(ns.host, 'ip', 'link', 'set', 'pubx', 'up');
    try {
      await waitFor('the port shut on the rename', async () => (await port()).portDown, 25_000, 100).catch(async (e: Error) => {
        throw new Error(`${e.message}; port: ${JSON.stringify(await port())}`);
      });
      expect((await port()).reason).toMatch(/tamper reports/);
      expect(await lab.probeUntil(ns.host, '203.0.113.1', 80, 'connected', 1_500)).not.toBe('connected');
      // The agent still reports its generation applied; the controller's own view (its tamper log) is on /metrics.
      const metrics = await (await fetch(`http://127.0.0.1:${controller.metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/^cordon_hosts_cut_switch_only 1$/m);
      expect(metrics).toMatch(/^cordon_hosts_enforcement_observed\{observed="switch_only"\} 1$/m);
      expect(metrics).toMatch(/^cordon_hosts_restriction_unconfirmed 0$/m);
    } finally {
      lab.inNs(ns.host, 'ip', 'link', 'set', 'pubx', 'down');
      lab.inNs(ns.host, 'ip', 'link', 'set', 'pubx', 'name', 'pub0');
      lab.inNs(ns.host, 'ip', 'link', 'set', 'pub0', 'up');
    }
    await waitFor('the port handed back once the interface is back', async () => !(await port()).portDown, 40_000, 200);
    expect(await observed()).toMatchObject({ observed: 'confirmed' });
  }, 60_000);

  it('a release while the agent is gone and the switch unreachable: nothing says released, the reason shows, a second request sends nothing', async () => {
    // An agent crash: its rules stay, it says nothing more.
    await stopAgent();
    await waitFor('the port shut for the silent agent', async () => (await port()).portDown, 10_000, 100);
    sshd!.stop();
    await controller.service.apply(incidentId, { type: 'customer_fixed' }, 'customer');
    await controller.service.apply(incidentId, { type: 'operator_release', operator: 'olga' }, 'olga');
    await waitFor('the switch failure recorded', async () => (await port()).failure !== undefined, 15_000, 100);
    expect(await state()).toBe('releasing');
    expect(await observed()).toMatchObject({ observed: 'lifting', reason: expect.stringMatching(/switch port still shut: switch failing since .*; agent disconnected since/) });
    expect(await mails(incidentId, 'released')).toBe(0);
    await controller.service.apply(incidentId, { type: 'operator_release', operator: 'bob' }, 'bob');
    expect(await state()).toBe('releasing');
    expect((await controller.store.events.list(incidentId)).filter((e) => e.type === 'operator_release')).toHaveLength(1);
    expect(await mails(incidentId, 'released')).toBe(0);
    expect((await countQueue(controller.store, () => false)).byWhy.releasing).toBe(1);

    // The switch is back (a new box, its key checked and pinned): the port opens, but the agent's rules may still be there.
    sshd = await startSshd({ netns: ns.sw, listenAddress: SwitchLab.SWITCH_MGMT, port: 22 });
    await controller.store.switches.set('web-01', target(sshd));
    await waitFor('the port reopened', async () => !(await port()).portDown, 15_000, 100);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await state()).toBe('releasing');
    expect(await observed()).toMatchObject({ observed: 'lifting', reason: expect.stringMatching(/^lift not confirmed: agent disconnected since/) });
    expect(await probe()).not.toBe('connected'); // the crashed agent's isolation is still on the server

    // The agent never returns: the operator finishes it explicitly, and the customer is told to clear the server from its console.
    await controller.service.apply(incidentId, { type: 'operator_release_agent_gone', operator: 'olga', reason: 'agent gone for a week' }, 'olga');
    expect(await state()).toBe('released');
    expect(await mails(incidentId, 'released')).toBe(0);
    expect(await mails(incidentId, 'released_agent_gone')).toBe(1);
    const audit = await controller.store.db.all<{ action: string; actor: string }>("SELECT action, actor FROM audit_log WHERE action = 'incident.operator_release_agent_gone'");
    expect(audit).toEqual([{ action: 'incident.operator_release_agent_gone', actor: 'olga' }]);

    // The customer restarts the agent from the console: it applies the lift, traffic flows, the incident closes.
    await startAgent();
    await waitFor('the incident closed by the agent’s report', async () => (await state()) === 'closed', 15_000, 200);
    expect(await lab.probeUntil(ns.host, '203.0.113.1', 80, 'connected', 5_000)).toBe('connected');
  }, 90_000);

  it('a revoked agent certificate: the host is silent for the fallback, and the switch takes the cut', async () => {
    const again = await controller.service.enforceHost('web-01', { kind: 'isolate' }, 'C&C traffic again', 'olga');
    await controller.service.apply(again, { type: 'operator_override_bmc', operator: 'omar', reason: 'test lab without a BMC' }, 'omar');
    await waitFor('the agent to isolate again', async () => (await state(again)) === 'enforced', 10_000);
    const serial = controller.server.sessions.get('web-01')!.certificateSerial;
    writeFileSync(pki.revokedFile, `${serial}\n`);
    try {
      await waitFor('the port shut for the revoked agent', async () => (await port()).portDown, 15_000, 100);
      expect((await port()).reason).toMatch(/agent silent for \d+ s \(.*revoked.*\)/);
      expect(await observed()).toMatchObject({ observed: 'switch_only', reason: expect.stringMatching(/agent disconnected since .*revoked/) });
      expect(lab.kernelAdminUp('swp1')).toBe(false);
    } finally {
      writeFileSync(pki.revokedFile, '');
    }
  }, 60_000);
});
