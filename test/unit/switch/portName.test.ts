import { describe, expect, it } from 'vitest';
import { isCordonError } from '../../../proto/runtime/CordonError.js';
import { assertAddressable, samePort, validatePortName } from '../../../controller/switch/portName.js';
import type { SwitchTarget } from '../../../controller/switch/SwitchDriver.js';

const target = (over: Partial<SwitchTarget> = {}): SwitchTarget => ({
  switchId: 'sw-a1', address: '10.255.9.1', user: 'cordon', privateKeyFile: '/etc/cordon/switch_ed25519',
  hostKeySha256: `SHA256:${'A'.repeat(43)}`, vendor: 'ios', hostPort: 'GigabitEthernet1/0/5', protectedPorts: ['Gi1/0/48'], ...over,
});

describe('port names', () => {
  it.each(['swp1', 'Ethernet4', 'GigabitEthernet1/0/5', 'Gi1/0/5', 'ge-0/0/5', 'xe-0/0/1:2', 'Port-channel1', 'eth0.100', 'swp1s0_1'])('accepts %s', (name) => {
    expect(validatePortName(name, 'hostPort')).toBe(name);
  });

  it.each(['', 'swp1 ', 'swp1;reboot', 'swp1$(id)', 'swp1`id`', 'swp1|x', 'swp1&', 'a b', '-all', '/etc', 'swp1\nshutdown', 'x'.repeat(65), "swp'1"])('refuses %j', (name) => {
    expect(() => validatePortName(name, 'hostPort')).toThrow(/hostPort: port name/);
  });

  it('compares IOS names across case and abbreviation, others exactly', () => {
    expect(samePort('ios', 'Gi1/0/48', 'GigabitEthernet1/0/48')).toBe(true);
    expect(samePort('ios', 'gigabitethernet1/0/48', 'GI1/0/48')).toBe(true);
    expect(samePort('ios', 'Gi1/0/4', 'Gi1/0/48')).toBe(false);
    expect(samePort('ios', 'Fa0/1', 'Gi0/1')).toBe(false);
    expect(samePort('junos', 'ge-0/0/5', 'ge-0/0/5')).toBe(true);
    expect(samePort('junos', 'ge-0/0/5', 'GE-0/0/5')).toBe(false);
    expect(samePort('linux', 'swp1', 'swp1')).toBe(true);
  });
});

describe('assertAddressable', () => {
  it('returns the host port when it is not protected', () => {
    expect(assertAddressable(target())).toBe('GigabitEthernet1/0/5');
  });

  it('refuses a host port that is protected, also under another spelling', () => {
    const err = (() => {
      try {
        assertAddressable(target({ hostPort: 'GigabitEthernet1/0/48' }));
      } catch (e) {
        return e;
      }
    })();
    expect(isCordonError(err, 'refused')).toBe(true);
    expect(String(err)).toMatch(/GigabitEthernet1\/0\/48 on switch sw-a1 is protected \(Gi1\/0\/48\)/);
  });

  it('refuses a malformed host port as invalid', () => {
    expect(() => assertAddressable(target({ hostPort: 'Gi1/0/5; reload' }))).toThrow(expect.objectContaining({ kind: 'invalid', field: 'hostPort' }));
  });
});
