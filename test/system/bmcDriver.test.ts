import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecRunner, type CommandResult, type CommandRunner, type RunOptions } from '../../proto/runtime/CommandRunner.js';
import type { BmcCheck } from '../../controller/bmc/BmcDriver.js';
import { IpmitoolDriver } from '../../controller/bmc/IpmitoolDriver.js';
import { IpmiSim } from '../helpers/ipmiSim.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';

const gate = systemTestGate(['ipmitool', 'ipmi_sim']);
explainSkip('bmcDriver.test.ts', gate);

/** The real runner, keeping every argv and output so the test can look for the password in them. */
class TappedRunner implements CommandRunner {
  readonly seen: string[] = [];
  private readonly real = new ExecRunner();
  async run(command: string, args: string[], opts?: RunOptions): Promise<CommandResult> {
    const r = await this.real.run(command, args, opts);
    this.seen.push([command, ...args].join(' '), r.stdout, r.stderr);
    return r;
  }
}

/** The driver with its defaults (cipher suite 3, -N 1 -R 1, 2 attempts, 5 s between checks of one BMC). */
function driver(): { driver: IpmitoolDriver; runner: TappedRunner } {
  const runner = new TappedRunner();
  return { driver: new IpmitoolDriver({}, { runner }), runner };
}

function expectNoLeak(sim: IpmiSim, runner: TappedRunner, check: BmcCheck): void {
  expect(runner.seen.join('\n')).not.toContain(sim.password);
  expect(JSON.stringify(check)).not.toContain(sim.password);
}

describe.skipIf(!gate.ok)('IpmitoolDriver against OpenIPMI ipmi_sim', () => {
  let plain: IpmiSim;
  let withSol: IpmiSim;
  beforeAll(async () => {
    plain = await IpmiSim.start();
    withSol = await IpmiSim.start({ sol: true });
  });
  afterAll(async () => {
    await Promise.allSettled([plain?.stop(), withSol?.stop()]);
  });

  it('finds a live BMC reachable, with what mc info reports, in one command', async () => {
    const { driver: d, runner } = driver();
    const c = await d.check(plain.target());
    expect(c).toMatchObject({ reachable: true, sol: 'not_required', attempts: 1 });
    expect(c.error).toBeUndefined();
    expect(c.details).toMatchObject({ 'Firmware Revision': '9.08', 'Manufacturer Name': 'MontaVista Software, Inc.', 'IPMI Version': '2.0' });
    expect(c.durationMs).toBeLessThan(1000);
    expect(runner.seen[0]).toContain(`-f ${plain.passwordFile}`);
    expectNoLeak(plain, runner, c);
  });

  it('reports SOL ok where the BMC has it, and unavailable where it has none', async () => {
    const { driver: d, runner } = driver();
    const [ok, none] = await Promise.all([d.check(withSol.target({ sol: true })), d.check(plain.target({ sol: true }))]);
    expect(ok).toMatchObject({ reachable: true, sol: 'ok', attempts: 2 });
    expect(ok.details?.['SOL Enabled']).toBe('true');
    expect(none).toMatchObject({ reachable: true, sol: 'unavailable', errorKind: 'other', attempts: 2 });
    expect(none.error).toMatch(/^sol info: .*SOL parameter/);
    expectNoLeak(withSol, runner, ok);
  });

  it('reports a wrong password as an auth failure at once, without retrying', async () => {
    const { driver: d, runner } = driver();
    const wrong = plain.writeFile('wrong-password', 'not-the-password');
    const c = await d.check(plain.target({ passwordFile: wrong }));
    expect(c).toMatchObject({ reachable: false, errorKind: 'auth', attempts: 1 });
    expect(c.error).toMatch(/wrong password/);
    expect(c.durationMs).toBeLessThan(1000);
    expectNoLeak(plain, runner, c);
  });

  it('declares a stopped BMC silent after the configured attempts, about 2 s each', async () => {
    const sim = await IpmiSim.start();
    try {
      await sim.kill();
      const { driver: d } = driver();
      const c = await d.check(sim.target({ sol: true }));
      expect(c).toMatchObject({ reachable: false, sol: 'unavailable', errorKind: 'timeout', attempts: 2 });
      expect(c.error).toMatch(/no answer from the BMC.*2 attempts/);
      expect(c.durationMs).toBeGreaterThan(3500);
      expect(c.durationMs).toBeLessThan(5500);
    } finally {
      await sim.stop();
    }
  });

  it('times out on a hung BMC (SIGSTOP) and finds it again once it resumes', async () => {
    const sim = await IpmiSim.start();
    try {
      sim.pause();
      const { driver: d } = driver();
      const hung = await d.check(sim.target());
      expect(hung).toMatchObject({ reachable: false, errorKind: 'timeout', attempts: 2 });
      sim.resume();
      // A new driver: the same one would (rightly) wait 5 s before asking this BMC again.
      const back = await driver().driver.check(sim.target());
      expect(back.reachable).toBe(true);
    } finally {
      sim.resume();
      await sim.stop();
    }
  });
});
