import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshSwitchDriver } from '../../controller/switch/SshSwitchDriver.js';
import type { SwitchTarget } from '../../controller/switch/SwitchDriver.js';
import { SwitchPortError } from '../../controller/switch/SwitchPortError.js';
import { isCordonError } from '../../proto/runtime/CordonError.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { SwitchLab } from '../helpers/switchLab.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { NamespaceDialer, startSshd, type Sshd } from '../helpers/sshd.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';

const gate = systemTestGate(['ip', 'sshd', 'ssh-keygen']);
explainSkip('switchDriver.test.ts', gate);

const lab = new SwitchLab();
const ns = lab.ns;
const SWITCH_MGMT = SwitchLab.SWITCH_MGMT;
const probe = (from: string, host: string, port: number) => lab.probe(from, host, port);
const kernelAdminUp = (port: string) => lab.kernelAdminUp(port);
const bridgePortsUp = () => lab.bridgePortsUp();

describe.skipIf(!gate.ok)('SshSwitchDriver against a Linux bridge switch in namespaces (real sshd)', () => {
  let sshd: Sshd | undefined;
  let dialer: NamespaceDialer | undefined;
  let driver: SshSwitchDriver;
  let target: SwitchTarget;
  const listeners: ChildProcess[] = [];

  const listen = async (n: string, port: number) => {
    const child = spawn('ip', ['netns', 'exec', n, process.execPath, join(REPO_ROOT, 'test/helpers/bin/tcp-listen.mjs'), String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
    listeners.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`listener in ${n} exited with ${code}`)));
    });
  };

  beforeAll(async () => {
    lab.build();
    await listen(ns.inet, 80);
    await listen(ns.mgmt, 7443);
    await bridgePortsUp();
    sshd = await startSshd({ netns: ns.sw, listenAddress: SWITCH_MGMT, port: 22 });
    const d = (dialer = new NamespaceDialer(ns.mgmt));
    driver = new SshSwitchDriver({ log: silentLogger(), connectTimeoutMs: 5_000, commandTimeoutMs: 5_000, dial: (t) => d.dial(t.address, t.port ?? 22) });
    target = {
      switchId: 'lab-sw-1', address: SWITCH_MGMT, port: 22, user: sshd.user, privateKeyFile: sshd.clientKeyFile,
      hostKeySha256: sshd.hostKeySha256, vendor: 'linux', hostPort: 'swp1', protectedPorts: ['swp2', 'eth0'],
    };
  });

  afterAll(() => {
    dialer?.close();
    sshd?.stop();
    for (const child of listeners) if (child.exitCode === null) child.kill('SIGKILL');
    lab.destroy();
  });

  it('starts with the host reaching the internet through the switch and the management network beside it', async () => {
    expect(probe(ns.host, '203.0.113.1', 80)).toBe('connected');
    expect(probe(ns.host, '10.250.0.1', 7443)).toBe('connected');
    await expect(driver.readPort(target)).resolves.toEqual({ port: 'swp1', adminUp: true });
  });

  it('shuts the host port: the host loses the internet but keeps its management side', async () => {
    const started = Date.now();
    await expect(driver.setPort(target, false)).resolves.toEqual({ port: 'swp1', adminUp: false });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(kernelAdminUp('swp1')).toBe(false);
    expect(kernelAdminUp('swp2')).toBe(true);
    expect(probe(ns.host, '203.0.113.1', 80)).not.toBe('connected');
    expect(probe(ns.host, '10.250.0.1', 7443)).toBe('connected');
    // Idempotent: shutting a shut port changes nothing and reports the same.
    await expect(driver.setPort(target, false)).resolves.toEqual({ port: 'swp1', adminUp: false });
  });

  it('reopens the host port and the internet comes back', async () => {
    await expect(driver.setPort(target, true)).resolves.toEqual({ port: 'swp1', adminUp: true });
    expect(kernelAdminUp('swp1')).toBe(true);
    await bridgePortsUp();
    expect(await lab.probeUntil(ns.host, '203.0.113.1', 80, 'connected')).toBe('connected');
  });

  it('refuses a switch whose host key is not the pinned one, and changes nothing', async () => {
    const stranger = `SHA256:${Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')}`;
    const err = await driver.setPort({ ...target, hostKeySha256: stranger }, false).catch((e: unknown) => e as Error);
    expect(isCordonError(err, 'permission')).toBe(true);
    expect((err as Error).message).toContain(`presented host key ${sshd!.hostKeySha256}, but ${stranger} is pinned`);
    expect(kernelAdminUp('swp1')).toBe(true);
  });

  it('refuses a client key the switch does not authorise', async () => {
    const err = await driver.readPort({ ...target, privateKeyFile: sshd!.strangerKeyFile }).catch((e: unknown) => e as Error);
    expect(isCordonError(err, 'unauthenticated')).toBe(true);
  });

  it('refuses to address a protected port (the uplink), before connecting', async () => {
    const err = await driver.setPort({ ...target, hostPort: 'swp2' }, false).catch((e: unknown) => e as Error);
    expect(isCordonError(err, 'refused')).toBe(true);
    expect(kernelAdminUp('swp2')).toBe(true);
  });

  it('reports the observed state when the command fails (a port the switch does not have)', async () => {
    const err = await driver.setPort({ ...target, hostPort: 'swp9' }, false).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(SwitchPortError);
    expect(isCordonError(err, 'transient')).toBe(true);
    expect((err as SwitchPortError).observed).toEqual({ port: 'swp9', adminUp: undefined });
    expect((err as Error).message).toMatch(/"ip link set dev swp9 down" failed \(exit 1\): Cannot find device "swp9".*read back afterwards: unknown \(.*does not exist/);
    expect(kernelAdminUp('swp1')).toBe(true);
  });
});
