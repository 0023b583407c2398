import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { createEngine } from '../../agent/createEngine.js';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { runDaemon, type RunningAgent } from '../../agent/runDaemon.js';
import { runController, type Controller } from '../../controller/runController.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { Store } from '../../controller/store/Store.js';
import { SshSwitchDriver } from '../../controller/switch/SshSwitchDriver.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { NamespaceDialer, startSshd, type Sshd } from '../helpers/sshd.js';
import { TestPki } from '../helpers/pki.js';
import { SwitchLab } from '../helpers/switchLab.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';
import { startListener } from '../helpers/netns.js';

const gate = systemTestGate(['ip', 'nft', 'sshd', 'ssh-keygen', 'openssl']);
explainSkip('switchFallback.test.ts', gate);

/**
 * The customer stops the agent and flushes its rules: the controller, seeing
 * the agent silent while the host should be isolated, shuts the host's port
 * on the switch over SSH; the management side stays reachable; the release
 * reopens the port.
 */
describe.skipIf(!gate.ok)('switch fallback when the agent is gone', () => {
  const lab = new SwitchLab('swfb');
  const ns = lab.ns;
  let sshd: Sshd | undefined;
  let dialer: NamespaceDialer | undefined;
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  let agent: RunningAgent | undefined;
  const listeners: ChildProcess[] = [];
  const listen = async (n: string, port: number) => listeners.push(await startListener(n, [port]));

  beforeAll(async () => {
    lab.build();
    await listen(ns.inet, 80);
    await listen(ns.mgmt, 7443);
    await listen(ns.host, 22);
    await lab.bridgePortsUp();
    sshd = await startSshd({ netns: ns.sw, listenAddress: SwitchLab.SWITCH_MGMT, port: 22 });
    const d = (dialer = new NamespaceDialer(ns.mgmt));
    pki = new TestPki();
    pki.agent('web-01');
    work = mkdtempSync(join(tmpdir(), 'cordon-swfb-'));
    const store = await Store.open(join(work, 'cordon.db'));
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.250.0.10' });
    await store.switches.set('web-01', {
      switchId: 'lab-sw-1', address: SwitchLab.SWITCH_MGMT, port: 22, user: sshd.user, privateKeyFile: sshd.clientKeyFile,
      hostKeySha256: sshd.hostKeySha256, vendor: 'linux', hostPort: 'swp1', protectedPorts: ['swp2', 'eth0'],
    });
    controller = await runController(
      controllerSettings(pki, store, {
        switchFallback: {
          driver: new SshSwitchDriver({ log: silentLogger(), connectTimeoutMs: 5_000, commandTimeoutMs: 5_000, dial: (t) => d.dial(t.address, t.port ?? 22) }),
          settings: { silentSeconds: 2, tamperThreshold: 3, tamperWindowSeconds: 600, sweepMs: 300 },
        },
      }),
    );
    const file = join(work, 'agent.json');
    writeFileSync(file, JSON.stringify({
      hostId: 'web-01',
      controller: { address: `127.0.0.1:${controller.server.port}`, serverName: 'localhost' },
      heartbeatSeconds: 1,
      reconnect: { initialMs: 100, maxMs: 500 },
      interfaces: { public: ['pub0'], management: ['mgmt0'] },
      managementNetworks: ['10.250.0.0/16'],
      stateDir: join(work, 'agent-state'),
    }));
    const settings = loadAgentConfig({ file }).getProperties();
    agent = await runDaemon(settings, pki.material('agent-web-01'), createEngine(settings, silentLogger(), new ExecRunner(ns.host)), silentLogger());
    await waitFor('the agent to connect', () => controller.server.sessions.get('web-01')?.state === 'connected');
  });
  afterAll(async () => {
    await agent?.stop();
    await controller?.stop(500);
    await controller?.store.close();
    dialer?.close();
    sshd?.stop();
    for (const c of listeners) if (c.exitCode === null) c.kill('SIGKILL');
    lab.destroy();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  let incidentId = '';

  it('leaves the switch alone while the agent enforces', async () => {
    incidentId = await controller.service.enforceHost('web-01', { kind: 'isolate' }, 'C&C traffic seen live', 'olga');
    // This lab has no BMC: an operator's cut waits for one like any other, and only an audited override lets it go.
    expect((await controller.store.incidents.get(incidentId))!.hold).toBe('bmc_unreachable');
    await controller.service.apply(incidentId, { type: 'operator_override_bmc', operator: 'omar', reason: 'test lab without a BMC' }, 'omar');
    await waitFor('the agent to isolate', async () => (await controller.store.incidents.get(incidentId))!.state === 'enforced', 10_000);
    expect(lab.probe(ns.host, '203.0.113.1', 80)).not.toBe('connected');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(lab.kernelAdminUp('swp1')).toBe(true);
  });

  it('shuts the switch port when the customer kills the agent and flushes its rules', async () => {
    await agent!.stop();
    agent = undefined;
    lab.inNs(ns.host, 'nft', 'delete', 'table', 'inet', 'cordon');
    await waitFor('the controller to record the shut port', async () => (await controller.store.switches.get('web-01'))?.portDown, 10_000, 100);
    expect(lab.kernelAdminUp('swp1')).toBe(false);
    expect(lab.kernelAdminUp('swp2')).toBe(true);
    expect(lab.probe(ns.host, '203.0.113.1', 80)).not.toBe('connected');
    expect(lab.probe(ns.mgmt, '10.250.0.10', 22)).toBe('connected');
    const events = (await controller.store.events.list(incidentId)).map((e) => e.type);
    expect(events).toContain('switch_port_down');
    expect((await controller.store.switches.get('web-01'))).toMatchObject({ portDown: true, reason: expect.stringMatching(/agent silent/) });
  });

  it('reopens the port on release', async () => {
    await controller.service.apply(incidentId, { type: 'customer_fixed' }, 'customer');
    await controller.service.apply(incidentId, { type: 'operator_release', operator: 'olga' }, 'olga');
    await waitFor('the controller to record the reopened port', async () => (await controller.store.switches.get('web-01'))?.portDown === false, 10_000, 100);
    expect(lab.kernelAdminUp('swp1')).toBe(true);
    await lab.bridgePortsUp();
    // A port just raised takes a moment to carry traffic (carrier, then the bridge learns the address again).
    await waitFor('traffic through the reopened port', () => lab.probe(ns.host, '203.0.113.1', 80) === 'connected', 5_000, 200);
    // Traffic flows here only because the customer flushed the rules: the controller cannot see that, and its
    // agent confirmed the cut before it went silent, so the release waits for it (or for release --agent-gone).
    expect((await controller.store.incidents.get(incidentId))!.state).toBe('releasing');
  });
});

