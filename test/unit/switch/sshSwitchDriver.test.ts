import { afterEach, describe, expect, it } from 'vitest';
import { SshSwitchDriver } from '../../../controller/switch/SshSwitchDriver.js';
import { SwitchPortError } from '../../../controller/switch/SwitchPortError.js';
import { isCordonError } from '../../../proto/runtime/CordonError.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import { IosModel, JunosModel, switchState } from './fakeCliModels.js';
import { startFakeSshSwitch, type FakeSshSwitch } from './fakeSshSwitch.js';

// The real driver, over real SSH (ssh2's server on 127.0.0.1:0), against
// simulated IOS and Junos CLIs: what goes over the wire, and what the driver
// reports when the switch refuses, hangs or drops half-way.

let fake: FakeSshSwitch | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const driver = (commandTimeoutMs = 5_000) => new SshSwitchDriver({ log: silentLogger(), connectTimeoutMs: 5_000, commandTimeoutMs });
const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('resolved');
};

describe('SshSwitchDriver with an IOS switch', () => {
  const ios = (ports: Record<string, boolean> = { 'GigabitEthernet1/0/5': true, 'GigabitEthernet1/0/48': true }) => {
    const model = switchState(ports);
    return startFakeSshSwitch(() => new IosModel(model)).then((f) => ({ f: (fake = f), model }));
  };

  it('shuts and reopens the host port with the exact IOS sequence, reading back each time', async () => {
    const { f, model } = await ios();
    const target = f.target('ios', 'GigabitEthernet1/0/5', ['Gi1/0/48']);
    await expect(driver().setPort(target, false)).resolves.toEqual({ port: 'GigabitEthernet1/0/5', adminUp: false });
    expect(model.ports.get('GigabitEthernet1/0/5')).toBe(false);
    await expect(driver().setPort(target, true)).resolves.toEqual({ port: 'GigabitEthernet1/0/5', adminUp: true });
    expect(f.sessions).toEqual([
      ['terminal length 0', 'configure terminal', 'interface GigabitEthernet1/0/5', 'shutdown', 'end', 'show interfaces GigabitEthernet1/0/5 status'],
      ['terminal length 0', 'configure terminal', 'interface GigabitEthernet1/0/5', 'no shutdown', 'end', 'show interfaces GigabitEthernet1/0/5 status'],
    ]);
    await expect(driver().readPort(target)).resolves.toEqual({ port: 'GigabitEthernet1/0/5', adminUp: true });
    expect(model.ports.get('GigabitEthernet1/0/48')).toBe(true);
  });

  it('stops at a refused interface, leaves configuration mode and reports the state as unknown', async () => {
    const { f } = await ios();
    const err = await failure(driver().setPort(f.target('ios', 'GigabitEthernet1/0/9'), false));
    expect(err).toBeInstanceOf(SwitchPortError);
    expect((err as SwitchPortError).observed).toEqual({ port: 'GigabitEthernet1/0/9', adminUp: undefined });
    expect(err.message).toMatch(/"interface GigabitEthernet1\/0\/9" refused: % Invalid input detected/);
    expect(err.message).toMatch(/read back afterwards: unknown/);
    expect(f.typed).toEqual(['terminal length 0', 'configure terminal', 'interface GigabitEthernet1/0/9', 'end', 'show interfaces GigabitEthernet1/0/9 status']);
  });

  it('reads the port back on a new connection when the switch drops the session after `shutdown`', async () => {
    const { f } = await ios();
    f.faults.set('shutdown', 'drop');
    const err = await failure(driver().setPort(f.target('ios', 'GigabitEthernet1/0/5'), false));
    expect(isCordonError(err, 'transient')).toBe(true);
    expect((err as SwitchPortError).observed.adminUp).toBe(false);
    expect(err.message).toMatch(/setting GigabitEthernet1\/0\/5 admin-down failed: .*closed.*read back afterwards: admin-down/);
    expect(f.sessions.length).toBe(2);
  });

  it('times out a command that never returns its prompt, and still says what the port is', async () => {
    const { f } = await ios();
    f.faults.set('shutdown', 'hang');
    const started = Date.now();
    const err = await failure(driver(400).setPort(f.target('ios', 'GigabitEthernet1/0/5'), false));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(err.message).toMatch(/no prompt after "shutdown" within 400 ms/);
    expect((err as SwitchPortError).observed.adminUp).toBe(false);
  });

  it('runs one session at a time per switch', async () => {
    const { f, model } = await ios();
    const target = f.target('ios', 'GigabitEthernet1/0/5');
    const d = driver();
    const results = await Promise.all([d.setPort(target, false), d.readPort(target), d.setPort(target, true), d.setPort(target, false)]);
    expect(results.map((r) => r.adminUp)).toEqual([false, false, true, false]);
    expect(f.maxConcurrent).toBe(1);
    expect(model.ports.get('GigabitEthernet1/0/5')).toBe(false);
  });

  it('gives up when aborted, without waiting for the command timeout', async () => {
    const { f } = await ios();
    f.faults.set('shutdown', 'hang');
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const started = Date.now();
    const err = await failure(driver(10_000).setPort(f.target('ios', 'GigabitEthernet1/0/5'), false, ac.signal));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err.message).toMatch(/aborted by the caller.*unknown/);
  });

  it('refuses a protected host port before connecting', async () => {
    const { f } = await ios();
    const err = await failure(driver().setPort(f.target('ios', 'GigabitEthernet1/0/48', ['Gi1/0/48']), false));
    expect(isCordonError(err, 'refused')).toBe(true);
    expect(f.sessions).toEqual([]);
  });

  it('refuses a switch whose host key differs from the pin, naming both fingerprints', async () => {
    const { f } = await ios();
    const pinned = `SHA256:${'x'.repeat(43)}`;
    const target = { ...f.target('ios', 'GigabitEthernet1/0/5'), hostKeySha256: pinned };
    const err = await failure(driver().setPort(target, false));
    expect(isCordonError(err, 'permission')).toBe(true);
    expect(err.message).toContain(pinned);
    expect(err.message).toContain(f.target('ios', 'x').hostKeySha256);
    expect(f.sessions).toEqual([]);
  });
});

describe('SshSwitchDriver with a Junos switch', () => {
  const junos = async () => {
    const model = switchState({ 'ge-0/0/5': true, 'ge-0/0/47': true });
    fake = await startFakeSshSwitch(() => new JunosModel(model));
    return { f: fake, model, target: fake.target('junos', 'ge-0/0/5', ['ge-0/0/47']) };
  };
  const setup = ['set cli screen-length 0', 'set cli screen-width 1024', 'set cli complete-on-space off'];

  it('disables and re-enables the port through a private candidate and a commit', async () => {
    const { f, model, target } = await junos();
    await expect(driver().setPort(target, false)).resolves.toEqual({ port: 'ge-0/0/5', adminUp: false });
    expect(model.ports.get('ge-0/0/5')).toBe(false);
    await expect(driver().setPort(target, true)).resolves.toEqual({ port: 'ge-0/0/5', adminUp: true });
    // Re-opening an open port: Junos warns "statement not found", which is not a failure.
    await expect(driver().setPort(target, true)).resolves.toEqual({ port: 'ge-0/0/5', adminUp: true });
    expect(f.sessions[0]).toEqual([...setup, 'configure private', 'set interfaces ge-0/0/5 disable', 'commit', 'exit', 'show interfaces ge-0/0/5 terse']);
    expect(f.sessions[1]).toEqual([...setup, 'configure private', 'delete interfaces ge-0/0/5 disable', 'commit', 'exit', 'show interfaces ge-0/0/5 terse']);
  });

  it('rolls back a failed commit before leaving, and reports the unchanged port', async () => {
    const { f, model, target } = await junos();
    model.failCommit = true;
    const err = await failure(driver(2_000).setPort(target, false));
    expect(err.message).toMatch(/"commit" refused: error: configuration check-out failed.*read back afterwards: admin-up/);
    expect((err as SwitchPortError).observed.adminUp).toBe(true);
    // Without `rollback 0`, `exit` would stop at "Exit with uncommitted changes?" and time out.
    expect(f.typed.slice(setup.length)).toEqual(['configure private', 'set interfaces ge-0/0/5 disable', 'commit', 'rollback 0', 'exit', 'show interfaces ge-0/0/5 terse']);
  });

  it('does not commit when another user holds uncommitted changes', async () => {
    const { f, model, target } = await junos();
    model.sharedDirty = true;
    const err = await failure(driver().setPort(target, false));
    expect(err.message).toMatch(/"configure private" refused: error: shared configuration database modified/);
    expect(f.typed).not.toContain('commit');
    expect((err as SwitchPortError).observed.adminUp).toBe(true);
  });

  it('reports a change that was accepted but shows no port (no such interface)', async () => {
    const { f } = await junos();
    const err = await failure(driver().setPort(f.target('junos', 'ge-0/0/99', ['ge-0/0/47']), false));
    expect(err.message).toMatch(/ge-0\/0\/99 admin-down were accepted but did not take.*unknown \("show interfaces ge-0\/0\/99 terse" refused: error: device ge-0\/0\/99 not found\)/);
  });
});
