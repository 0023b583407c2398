import { describe, expect, it } from 'vitest';
import type { SwitchTarget } from '../../../controller/switch/SwitchDriver.js';
import { at, seededStore } from './storeFixtures.js';

const target: SwitchTarget = {
  switchId: 'sw1', address: '10.0.0.2', user: 'cordon', privateKeyFile: '/etc/cordon/switch.key',
  hostKeySha256: 'SHA256:' + 'A'.repeat(43), vendor: 'linux', hostPort: 'swp1', protectedPorts: ['swp48'],
};

/** What the switch last said about a port (migration 13), on the engine under test. */
describe('the switch port’s confirmations and failures', () => {
  it('records a failure once per kind, keeps when the failures began, and clears it on a confirmation or a change', async () => {
    const store = await seededStore();
    await store.switches.set('web-01', target);
    expect(await store.switches.get('web-01')).toMatchObject({ portDown: false, confirmedAt: undefined, failure: undefined });

    expect(await store.switches.markFailed('web-01', 'permission', 'presented host key SHA256:x, but SHA256:A is pinned', at(10))).toBe(true);
    expect(await store.switches.markFailed('web-01', 'permission', 'presented host key SHA256:x, but SHA256:A is pinned', at(20))).toBe(false);
    expect((await store.switches.get('web-01'))!.failure).toEqual({ kind: 'permission', error: 'presented host key SHA256:x, but SHA256:A is pinned', since: at(10) });
    // Another kind is news again; the failures still began at the first.
    expect(await store.switches.markFailed('web-01', 'transient', 'connect timeout', at(30))).toBe(true);
    expect((await store.switches.get('web-01'))!.failure).toEqual({ kind: 'transient', error: 'connect timeout', since: at(10) });

    await store.switches.markConfirmed('web-01', at(40));
    expect(await store.switches.get('web-01')).toMatchObject({ confirmedAt: at(40), failure: undefined });

    await store.switches.markFailed('web-01', 'transient', 'x'.repeat(5000), at(50));
    expect((await store.switches.get('web-01'))!.failure!.error).toHaveLength(2000);
    expect(await store.switches.markPort('web-01', true, 'agent silent for 91 s', at(60), false)).toBe(true);
    expect(await store.switches.get('web-01')).toMatchObject({ portDown: true, changedAt: at(60), confirmedAt: at(60), failure: undefined });
    // A replica that saw the port up before records nothing twice.
    expect(await store.switches.markPort('web-01', true, 'agent silent for 92 s', at(61), false)).toBe(false);
    const many = await store.switches.getMany(['web-01', 'web-02']);
    expect([...many.keys()]).toEqual(['web-01']);
    await store.close();
  });
});
