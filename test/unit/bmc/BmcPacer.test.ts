import { describe, expect, it } from 'vitest';
import type { BmcCheck, BmcTarget } from '../../../controller/bmc/BmcDriver.js';
import { BmcPacer } from '../../../controller/bmc/BmcPacer.js';
import { IpmitoolDriver } from '../../../controller/bmc/IpmitoolDriver.js';
import { isCordonError } from '../../../proto/runtime/CordonError.js';
import { FakeClock, settle } from './FakeClock.js';
import { captures } from './ipmitoolCaptures.js';
import { ScriptedRunner } from './ScriptedRunner.js';

const bmc = (n: number): BmcTarget => ({ hostId: `web-${n}`, address: `10.255.3.${n}`, user: 'cordon', passwordFile: '/pw', sol: false });

function setup(hold = false) {
  const clock = new FakeClock();
  const runner = new ScriptedRunner(() => captures.mcInfoOk, hold);
  const driver = new IpmitoolDriver({}, { runner, clock, canRead: async () => true });
  return { clock, runner, driver };
}

describe('pacing of checks per BMC (default 5 s)', () => {
  it('makes a second check of the same BMC wait until 5 s after the first ended', async () => {
    const { clock, runner, driver } = setup();
    const t0 = clock.now().getTime();
    const first = await driver.check(bmc(1));
    let second: BmcCheck | undefined;
    const pending = driver.check(bmc(1)).then((c) => (second = c));
    await settle();
    expect(runner.calls).toHaveLength(1);
    clock.advance(4999);
    await settle();
    expect(runner.calls).toHaveLength(1);
    expect(second).toBeUndefined();
    clock.advance(1);
    await pending;
    expect(runner.calls).toHaveLength(2);
    expect(first.checkedAt.getTime()).toBe(t0);
    expect(second?.checkedAt.getTime()).toBe(t0 + 5000);
    // The wait is not part of the check's duration.
    expect(second?.durationMs).toBe(0);
  });

  it('does not wait when the interval has already passed, nor for another BMC', async () => {
    const { clock, runner, driver } = setup();
    await driver.check(bmc(1));
    const other = await driver.check(bmc(2));
    expect(other.checkedAt.getTime()).toBe(clock.now().getTime());
    clock.advance(6000);
    await driver.check(bmc(1));
    expect(runner.calls).toHaveLength(3);
    expect(clock.sleeping).toBe(0);
  });

  it('queues several early checks of one BMC 5 s apart, in order', async () => {
    const { clock, runner, driver } = setup();
    const checks = [driver.check(bmc(1)), driver.check(bmc(1)), driver.check(bmc(1))];
    for (let i = 0; i < 3; i++) {
      await settle();
      expect(runner.calls).toHaveLength(i + 1);
      clock.advance(4999);
      await settle();
      expect(runner.calls).toHaveLength(i + 1);
      clock.advance(1);
    }
    const times = (await Promise.all(checks)).map((c) => c.checkedAt.getTime());
    expect(times[1]! - times[0]!).toBe(5000);
    expect(times[2]! - times[1]!).toBe(5000);
  });

  it('lets a waiting check be aborted without blocking the ones behind it', async () => {
    const { clock, runner, driver } = setup();
    await driver.check(bmc(1));
    const abort = new AbortController();
    const aborted = driver.check(bmc(1), abort.signal);
    const after = driver.check(bmc(1));
    await settle();
    abort.abort();
    await expect(aborted).rejects.toSatisfy((e: unknown) => isCordonError(e, 'transient'));
    clock.advance(5000);
    await expect(after).resolves.toMatchObject({ reachable: true });
    expect(runner.calls).toHaveLength(2);
  });
});

describe('concurrency across BMCs (default 4)', () => {
  it('runs different BMCs in parallel, at most 4 at once', async () => {
    const { runner, driver } = setup(true);
    const checks = [1, 2, 3, 4, 5, 6].map((n) => driver.check(bmc(n)));
    await settle();
    expect(runner.running).toBe(4);
    runner.calls[0]?.finish();
    await settle();
    expect(runner.calls).toHaveLength(5);
    expect(runner.running).toBe(4);
    for (let i = 1; i < 6; i++) {
      runner.calls[i]?.finish();
      await settle();
    }
    expect((await Promise.all(checks)).every((c) => c.reachable)).toBe(true);
    expect(runner.maxRunning).toBe(4);
  });

  it('does not spend a slot on a check that is waiting out its interval', async () => {
    const clock = new FakeClock();
    const pacer = new BmcPacer({ concurrency: 1, minIntervalMs: 5000 }, clock);
    await pacer.run('a', undefined, async () => 'a1');
    const a2 = pacer.run('a', undefined, async () => 'a2');
    // With a single slot, b still runs while a2 waits for its turn.
    await expect(pacer.run('b', undefined, async () => 'b1')).resolves.toBe('b1');
    clock.advance(5000);
    await expect(a2).resolves.toBe('a2');
  });

  it('refuses a concurrency below 1', () => {
    expect(() => new BmcPacer({ concurrency: 0, minIntervalMs: 0 })).toThrow(/concurrency/);
  });
});
