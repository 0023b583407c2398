import { describe, expect, it } from 'vitest';
import type { BmcTarget } from '../../../controller/bmc/BmcDriver.js';
import { IpmitoolDriver } from '../../../controller/bmc/IpmitoolDriver.js';
import type { IpmitoolConfig } from '../../../controller/bmc/IpmitoolConfig.js';
import { FakeClock } from './FakeClock.js';
import { captures, type Capture } from './ipmitoolCaptures.js';
import { ScriptedRunner } from './ScriptedRunner.js';

const target: BmcTarget = { hostId: 'web-01', address: '10.255.3.17', user: 'cordon', passwordFile: '/etc/cordon/bmc/web-01.pw', sol: false };

function setup(script: (subcommand: string, call: number) => Capture | Partial<{ code: number; stdout: string; stderr: string }>, config: Partial<IpmitoolConfig> = {}) {
  const runner = new ScriptedRunner(script);
  const driver = new IpmitoolDriver(config, { runner, clock: new FakeClock(), canRead: async () => true });
  return { runner, driver };
}

/** A healthy BMC with SOL, as ipmi_sim answers. */
const healthy = (sub: string): Capture =>
  sub === 'mc info' ? captures.mcInfoOk : sub === 'sol info 1' ? captures.solInfoEnabled : captures.chassisStatusOk;

describe('IpmitoolDriver.check', () => {
  it('finds a BMC reachable with one mc info, keeping the fields that identify it', async () => {
    const { runner, driver } = setup(healthy);
    const c = await driver.check(target);
    expect(c).toMatchObject({ hostId: 'web-01', reachable: true, sol: 'not_required', attempts: 1 });
    expect(c.details).toEqual({
      'Firmware Revision': '9.08',
      'IPMI Version': '2.0',
      'Manufacturer ID': '4753',
      'Manufacturer Name': 'MontaVista Software, Inc.',
      'Product ID': '3842 (0x0f02)',
      'Product Name': 'Unknown (0xF02)',
      'Device Available': 'yes',
    });
    expect(runner.subcommands).toEqual(['mc info']);
    expect(runner.calls[0]?.command).toBe('ipmitool');
    expect(runner.calls[0]?.opts?.timeoutMs).toBe(5000);
  });

  it('asks sol info only when the inventory says SOL should be there, and reads Enabled', async () => {
    const on = await setup(healthy).driver.check({ ...target, sol: true });
    expect(on).toMatchObject({ reachable: true, sol: 'ok', attempts: 2 });
    expect(on.details?.['SOL Enabled']).toBe('true');

    const off = await setup((s) => (s === 'sol info 1' ? captures.solInfoDisabled : healthy(s))).driver.check({ ...target, sol: true });
    expect(off).toMatchObject({ reachable: true, sol: 'unavailable', errorKind: 'other' });
    expect(off.error).toMatch(/SOL is not enabled/);

    const none = await setup((s) => (s === 'sol info 1' ? captures.solInfoNoSol : healthy(s))).driver.check({ ...target, sol: true });
    expect(none).toMatchObject({ reachable: true, sol: 'unavailable', errorKind: 'other', attempts: 2 });
    expect(none.error).toMatch(/^sol info: .*Set In Progress/);
  });

  it('tries a silent BMC `attempts` times, then reports it with the time spent', async () => {
    const { runner, driver } = setup(() => captures.simulatorStopped);
    const c = await driver.check({ ...target, sol: true });
    expect(c).toMatchObject({ reachable: false, sol: 'unavailable', errorKind: 'timeout', attempts: 2 });
    expect(c.error).toBe('mc info: no answer from the BMC (ipmitool: Get Auth Capabilities error), 2 attempts');
    expect(runner.subcommands).toEqual(['mc info', 'mc info']);

    const three = setup(() => captures.nameNotFound, { attempts: 3 });
    expect(await three.driver.check(target)).toMatchObject({ errorKind: 'unreachable', attempts: 3 });
  });

  it('is satisfied by a second attempt after a lost answer', async () => {
    const { driver } = setup((s, n) => (n === 0 ? captures.simulatorPaused : healthy(s)));
    expect(await driver.check(target)).toMatchObject({ reachable: true, attempts: 2 });
  });

  it('never retries an auth failure: BMCs lock accounts after a few bad logins', async () => {
    const { runner, driver } = setup(() => captures.wrongPassword);
    const c = await driver.check({ ...target, sol: true });
    expect(c).toMatchObject({ reachable: false, sol: 'unavailable', errorKind: 'auth', attempts: 1 });
    expect(runner.calls).toHaveLength(1);
  });

  it('counts an ipmitool killed by the hard timeout as a timeout', async () => {
    const { driver } = setup(() => ({ code: 128 }), { hardTimeoutMs: 3000 });
    const c = await driver.check(target);
    expect(c).toMatchObject({ reachable: false, errorKind: 'timeout', attempts: 2 });
    expect(c.error).toMatch(/killed after 3000 ms/);
  });

  it('falls back to chassis status when the BMC answered but not mc info', async () => {
    // Not captured (ipmi_sim answers mc info): the shape ipmitool prints when a BMC rejects Get Device ID.
    const oddMc = { code: 1, stdout: '', stderr: 'Get Device ID command failed: Invalid command\n' };
    const ok = setup((s) => (s === 'mc info' ? oddMc : healthy(s)));
    const c = await ok.driver.check(target);
    expect(c).toMatchObject({ reachable: true, attempts: 2, details: { 'System Power': 'off', 'Liveness Check': 'chassis status' } });
    expect(ok.runner.subcommands).toEqual(['mc info', 'chassis status']);

    const both = await setup(() => oddMc).driver.check(target);
    expect(both).toMatchObject({ reachable: false, errorKind: 'other', attempts: 2 });
    expect(both.error).toMatch(/^mc info: .*; chassis status: /);
  });

  it('does not fall back after a timeout or an auth failure (the same session set-up would fail)', async () => {
    for (const capture of [captures.simulatorStopped, captures.wrongPassword]) {
      const { runner, driver } = setup(() => capture);
      await driver.check(target);
      expect(runner.subcommands.every((s) => s === 'mc info')).toBe(true);
    }
  });

  it('sends nothing when the password file is unreadable (ipmitool would try an empty password)', async () => {
    const runner = new ScriptedRunner();
    const driver = new IpmitoolDriver({}, { runner, clock: new FakeClock(), canRead: async () => false });
    const c = await driver.check({ ...target, sol: true });
    expect(c).toMatchObject({ reachable: false, sol: 'unavailable', errorKind: 'other', attempts: 0 });
    expect(c.error).toBe('password file /etc/cordon/bmc/web-01.pw is not readable');
    expect(runner.calls).toHaveLength(0);
  });

  it('rejects a malformed target before queueing it', async () => {
    const { runner, driver } = setup(healthy);
    await expect(driver.check({ ...target, address: '-H' })).rejects.toMatchObject({ kind: 'invalid', field: 'address' });
    expect(runner.calls).toHaveLength(0);
  });

  it('uses the target cipher suite over the default and never passes the password', async () => {
    const { runner, driver } = setup(healthy, { cipherSuite: 17 });
    await driver.check({ ...target, sol: true, cipherSuite: 3 });
    await driver.check({ ...target, address: '10.255.3.18', sol: true });
    const argv = runner.calls.map((c) => c.args.join(' '));
    expect(argv[0]).toContain('-C 3 ');
    expect(argv[2]).toContain('-C 17 ');
    for (const a of argv) expect(a).toMatch(/-f \/etc\/cordon\/bmc\/web-01\.pw /);
    for (const c of runner.calls) expect(c.args).not.toContain('-P');
  });
});
