import { describe, expect, it } from 'vitest';
import { SwitchBackoff } from '../../../controller/dispatch/SwitchBackoff.js';
import type { HostSwitch } from '../../../controller/store/SwitchesRepo.js';

const sw = (hostKeySha256 = 'SHA256:aaaa'): HostSwitch => ({
  hostId: 'web-01',
  target: { switchId: 'sw1', address: '10.0.0.2', user: 'cordon', privateKeyFile: '/k', hostKeySha256, vendor: 'linux', hostPort: 'swp1', protectedPorts: [] },
  portDown: false,
  reason: undefined,
  changedAt: undefined,
  confirmedAt: undefined,
  failure: undefined,
});

describe('how often a failing switch is tried again', () => {
  it('a transient failure doubles from 5 s (never below the sweep) up to 5 min', () => {
    const b = new SwitchBackoff(300);
    const delays = Array.from({ length: 9 }, () => b.failed(sw(), 'transient', 0));
    expect(delays).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
    expect(new SwitchBackoff(30_000).failed(sw(), 'transient', 0)).toBe(30_000);
  });

  it('a changed host key or a refused key is retried every 10 min, not every sweep', () => {
    const b = new SwitchBackoff(300);
    expect(b.failed(sw(), 'permission', 1_000)).toBe(600_000);
    expect(b.due(sw(), 1_000 + 599_999)).toBe(false);
    expect(b.due(sw(), 1_000 + 600_000)).toBe(true);
    expect(b.failed(sw(), 'unauthenticated', 0)).toBe(600_000);
  });

  it('a new inventory entry (the key pinned again after checking the console) is tried at once; success forgets the failures', () => {
    const b = new SwitchBackoff(300);
    b.failed(sw(), 'permission', 0);
    expect(b.due(sw(), 1)).toBe(false);
    expect(b.due(sw('SHA256:bbbb'), 1)).toBe(true);
    b.failed(sw(), 'transient', 0);
    b.failed(sw(), 'transient', 0);
    b.succeeded('web-01');
    expect(b.due(sw(), 0)).toBe(true);
    expect(b.failed(sw(), 'transient', 0)).toBe(5_000);
  });
});
