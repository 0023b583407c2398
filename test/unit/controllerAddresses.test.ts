import { describe, expect, it } from 'vitest';
import { ControllerAddresses } from '../../agent/link/ControllerAddresses.js';
import { resolveControllers, type LookupAll } from '../../agent/link/resolveControllers.js';

/** Dials `n` times against a list of `count`, all failing; returns each index dialled and the round a failure ended, if any. */
function failAll(r: ControllerAddresses, count: number, n: number): { index: number; round: number | undefined }[] {
  const out = [];
  for (let i = 0; i < n; i++) {
    const index = r.current(count);
    out.push({ index, round: r.failed(count) });
  }
  return out;
}

describe('ControllerAddresses: which controller the agent dials next', () => {
  it('starts at a random position drawn once, then rotates through the list', () => {
    expect(new ControllerAddresses(() => 0).current(3)).toBe(0);
    expect(new ControllerAddresses(() => 0.5).current(3)).toBe(1);
    expect(new ControllerAddresses(() => 0.999).current(3)).toBe(2);
    // A random() of exactly 1 (not from Math.random, but an injected one may) stays in the list.
    expect(new ControllerAddresses(() => 1).current(3)).toBe(2);
    let draws = 0;
    const r = new ControllerAddresses(() => (draws++, 0.5));
    expect([r.current(3), r.current(3)]).toEqual([1, 1]);
    expect(draws).toBe(1);
    expect(failAll(r, 3, 4).map((d) => d.index)).toEqual([1, 2, 0, 1]);
  });

  it('backs off only after a full round of failures, with a growing round number', () => {
    const r = new ControllerAddresses(() => 0.4);
    expect(failAll(r, 3, 9)).toEqual([
      { index: 1, round: undefined },
      { index: 2, round: undefined },
      { index: 0, round: 0 },
      { index: 1, round: undefined },
      { index: 2, round: undefined },
      { index: 0, round: 1 },
      { index: 1, round: undefined },
      { index: 2, round: undefined },
      { index: 0, round: 2 },
    ]);
  });

  it('keeps the address that accepted, and starts rounds and backoff again from it', () => {
    const r = new ControllerAddresses(() => 0);
    failAll(r, 3, 4); // 0, 1, 2 (a full round: backoff 0), 0 again: now at 1
    expect(r.current(3)).toBe(1);
    r.connected();
    expect(r.current(3)).toBe(1);
    // Round 0 again, not 1: the accepted Hello reset the backoff.
    expect(failAll(r, 3, 3)).toEqual([
      { index: 1, round: undefined },
      { index: 2, round: undefined },
      { index: 0, round: 0 },
    ]);
  });

  it('moves to the next address when an established stream ends, a full round before any backoff', () => {
    const r = new ControllerAddresses(() => 0);
    r.connected();
    r.ended(2);
    expect(r.current(2)).toBe(1);
    expect(failAll(r, 2, 2)).toEqual([
      { index: 1, round: undefined },
      { index: 0, round: 0 },
    ]);
  });

  it('with one address behaves as before lists: each failure is a backoff round, the same address always', () => {
    const r = new ControllerAddresses(() => 0.7);
    expect(failAll(r, 1, 3)).toEqual([
      { index: 0, round: 0 },
      { index: 0, round: 1 },
      { index: 0, round: 2 },
    ]);
    r.connected();
    r.ended(1);
    expect(failAll(r, 1, 1)).toEqual([{ index: 0, round: 0 }]);
  });

  it('follows a list that changes length (a DNS name re-resolved)', () => {
    const r = new ControllerAddresses(() => 0.9);
    expect(r.current(4)).toBe(3);
    expect(r.current(2)).toBe(1);
    r.failed(2);
    expect(r.current(3)).toBe(0);
    expect(() => r.current(0)).toThrow(RangeError);
  });
});

describe('resolveControllers: the list dialled, resolved at each dial', () => {
  const lookup: LookupAll = async (host) => {
    if (host === 'ctl.mgmt') return [{ address: '10.255.0.3', family: 4 }, { address: '10.255.0.1', family: 4 }, { address: 'fd00::1', family: 6 }, { address: '10.255.0.1', family: 4 }];
    if (host === 'one.mgmt') return [{ address: '10.255.0.9', family: 4 }];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  };

  it('expands a name to every address, sorted, verified against the name, not the IP', async () => {
    expect(await resolveControllers(['ctl.mgmt:7443'], undefined, lookup)).toEqual([
      { address: '10.255.0.1:7443', serverName: 'ctl.mgmt', label: 'ctl.mgmt:7443 (10.255.0.1)' },
      { address: '10.255.0.3:7443', serverName: 'ctl.mgmt', label: 'ctl.mgmt:7443 (10.255.0.3)' },
      { address: '[fd00::1]:7443', serverName: 'ctl.mgmt', label: 'ctl.mgmt:7443 (fd00::1)' },
    ]);
  });

  it('keeps IP addresses as they are (verified as IPs) and drops duplicates', async () => {
    expect(await resolveControllers(['10.255.0.9:7443', 'one.mgmt:7443', '[fd00::2]:7443'], undefined, lookup)).toEqual([
      { address: '10.255.0.9:7443', serverName: undefined, label: '10.255.0.9:7443' },
      { address: '[fd00::2]:7443', serverName: undefined, label: '[fd00::2]:7443' },
    ]);
  });

  it('verifies every controller against serverName when it is set', async () => {
    const targets = await resolveControllers(['10.255.0.9:7443', 'ctl.mgmt:7443'], 'controllers.cordon', lookup);
    expect(targets.map((t) => t.serverName)).toEqual(['controllers.cordon', 'controllers.cordon', 'controllers.cordon', 'controllers.cordon']);
  });

  it('leaves a name that does not resolve to the dial, which fails and moves on', async () => {
    expect(await resolveControllers(['gone.mgmt:7443', 'one.mgmt:7443'], undefined, lookup)).toEqual([
      { address: 'gone.mgmt:7443', serverName: 'gone.mgmt', label: 'gone.mgmt:7443' },
      { address: '10.255.0.9:7443', serverName: 'one.mgmt', label: 'one.mgmt:7443 (10.255.0.9)' },
    ]);
  });
});
