import { describe, expect, it } from 'vitest';
import type { BmcTarget } from '../../../controller/bmc/BmcDriver.js';
import { bmcKey, buildIpmitoolArgs } from '../../../controller/bmc/buildIpmitoolArgs.js';
import { ipmitoolGiveUpMs, resolveIpmitoolConfig } from '../../../controller/bmc/IpmitoolConfig.js';
import { isCordonError } from '../../../proto/runtime/CordonError.js';

const target: BmcTarget = { hostId: 'web-01', address: '10.255.3.17', user: 'cordon', passwordFile: '/etc/cordon/bmc/web-01.pw', sol: true };

function invalidField(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isCordonError(err, 'invalid') ? err.field : `not invalid: ${String(err)}`;
  }
  return undefined;
}

describe('buildIpmitoolArgs', () => {
  it('builds the lanplus command line with the defaults, the password by file only', () => {
    const args = buildIpmitoolArgs(target, resolveIpmitoolConfig(), ['mc', 'info']);
    expect(args.join(' ')).toBe(
      '-I lanplus -H 10.255.3.17 -p 623 -U cordon -f /etc/cordon/bmc/web-01.pw -C 3 -L USER -N 1 -R 1 -v mc info',
    );
    // -P would put the password in /proc/PID/cmdline for every local user; -E/-a read it from elsewhere.
    for (const flag of ['-P', '-E', '-a']) expect(args).not.toContain(flag);
  });

  it('takes the port and cipher suite of the target and the timing of the config', () => {
    const cfg = resolveIpmitoolConfig({ cipherSuite: 17, timeoutSeconds: 2, retries: 3, privilege: 'OPERATOR' });
    const args = buildIpmitoolArgs({ ...target, port: 6230, cipherSuite: 8 }, cfg, ['sol', 'info', '1']);
    expect(args.join(' ')).toBe('-I lanplus -H 10.255.3.17 -p 6230 -U cordon -f /etc/cordon/bmc/web-01.pw -C 8 -L OPERATOR -N 2 -R 3 -v sol info 1');
  });

  it('refuses targets that would not make a sound command line, naming the field', () => {
    const cfg = resolveIpmitoolConfig();
    const build = (t: Partial<BmcTarget>) => () => buildIpmitoolArgs({ ...target, ...t }, cfg, ['mc', 'info']);
    expect(invalidField(build({ address: '-P' }))).toBe('address');
    expect(invalidField(build({ address: '' }))).toBe('address');
    expect(invalidField(build({ address: '10.0.0.1 -P x' }))).toBe('address');
    expect(invalidField(build({ port: 0 }))).toBe('port');
    expect(invalidField(build({ port: 70000 }))).toBe('port');
    expect(invalidField(build({ user: '' }))).toBe('user');
    expect(invalidField(build({ user: 'a-seventeen-chars' }))).toBe('user');
    expect(invalidField(build({ passwordFile: ' ' }))).toBe('passwordFile');
    expect(invalidField(build({ cipherSuite: 18 }))).toBe('cipherSuite');
    expect(invalidField(build({ address: 'fd00::17' }))).toBeUndefined();
    expect(invalidField(build({ address: 'bmc-web-01.mgmt.example' }))).toBeUndefined();
  });

  it('keys pacing by address and port, not by host id', () => {
    expect(bmcKey(target)).toBe('10.255.3.17:623');
    expect(bmcKey({ ...target, hostId: 'other', port: 623 })).toBe('10.255.3.17:623');
    expect(bmcKey({ ...target, port: 6230 })).toBe('10.255.3.17:6230');
  });
});

describe('IpmitoolConfig', () => {
  it('has the documented defaults, with a hard timeout above what ipmitool needs to give up', () => {
    expect(resolveIpmitoolConfig()).toEqual({
      command: 'ipmitool',
      cipherSuite: 3,
      privilege: 'USER',
      timeoutSeconds: 1,
      retries: 1,
      attempts: 2,
      concurrency: 4,
      minIntervalMs: 5000,
      hardTimeoutMs: 5000,
    });
    expect(resolveIpmitoolConfig({ hardTimeoutMs: 9000 }).hardTimeoutMs).toBe(9000);
  });

  it('knows how long ipmitool takes to give up (measured: 2, 6, 4, 10, 12 s)', () => {
    expect(ipmitoolGiveUpMs(1, 1)).toBe(2000);
    expect(ipmitoolGiveUpMs(1, 2)).toBe(6000);
    expect(ipmitoolGiveUpMs(2, 1)).toBe(4000);
    expect(ipmitoolGiveUpMs(2, 2)).toBe(10000);
    expect(ipmitoolGiveUpMs(1, 3)).toBe(12000);
  });

  it('refuses values ipmitool would misread, naming the key', () => {
    // -R 0 means ipmitool's default of 4 retries, ~20 s per run.
    expect(invalidField(() => resolveIpmitoolConfig({ retries: 0 }))).toBe('retries');
    expect(invalidField(() => resolveIpmitoolConfig({ timeoutSeconds: 0.5 }))).toBe('timeoutSeconds');
    expect(invalidField(() => resolveIpmitoolConfig({ attempts: 0 }))).toBe('attempts');
    expect(invalidField(() => resolveIpmitoolConfig({ concurrency: 0 }))).toBe('concurrency');
    expect(invalidField(() => resolveIpmitoolConfig({ minIntervalMs: -1 }))).toBe('minIntervalMs');
    expect(invalidField(() => resolveIpmitoolConfig({ cipherSuite: 99 }))).toBe('cipherSuite');
    expect(invalidField(() => resolveIpmitoolConfig({ command: '' }))).toBe('command');
  });
});
