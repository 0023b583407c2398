import { describe, expect, it } from 'vitest';
import { observeEnforcement, type EnforcementFacts } from '../../../controller/incidents/observeEnforcement.js';

const T = (s: number) => new Date(Date.UTC(2026, 11, 7, 10, 0, s));

/** A host isolated at generation 3, its agent connected since T(0) and confirming it at T(5); no switch port. */
function facts(over: Partial<EnforcementFacts> = {}): EnforcementFacts {
  return {
    generation: 3,
    issuedAt: T(1),
    restricts: true,
    cuts: true,
    report: { status: 'applied', appliedGeneration: 3, error: undefined, at: T(5) },
    link: { state: 'connected', connectedSince: T(0), lastHeartbeat: T(9), disconnectedAt: undefined, disconnectReason: '' },
    watchingSince: T(0),
    tampers: { at: [], threshold: 3 },
    port: undefined,
    ...over,
  };
}
const port = (over: Partial<NonNullable<EnforcementFacts['port']>> = {}): EnforcementFacts['port'] => ({
  down: true,
  changedAt: T(20),
  confirmedAt: T(20),
  failure: undefined,
  ...over,
});
const gone = { state: 'disconnected' as const, connectedSince: T(0), lastHeartbeat: T(9), disconnectedAt: T(10), disconnectReason: 'agent stream ended' };

describe('what the controller has seen of a host’s enforcement', () => {
  it('confirmed: the agent reported the current generation on its current link', () => {
    expect(observeEnforcement(facts())).toEqual({ observed: 'confirmed', since: T(5), reason: 'agent confirmed generation 3' });
  });

  it('the customer kills the agent: the cut is NOT confirmed from the moment the stream ended, and says there is no switch to fall back on', () => {
    const o = observeEnforcement(facts({ link: gone }));
    expect(o).toMatchObject({ observed: 'unconfirmed', since: T(10) });
    expect(o.reason).toMatch(/^agent disconnected since 2026-12-07T10:00:10.000Z \(agent stream ended\); no switch port to fall back on$/);
  });

  it('a silent (stale) agent and one never heard from since the controller started are not trusted either', () => {
    expect(observeEnforcement(facts({ link: { ...facts().link!, state: 'stale' } }))).toMatchObject({ observed: 'unconfirmed', since: T(9), reason: expect.stringMatching(/silent since/) });
    expect(observeEnforcement(facts({ link: undefined }))).toMatchObject({ observed: 'unconfirmed', since: T(0), reason: expect.stringMatching(/not heard from since the controller started/) });
  });

  it('a run of tamper reports (at the threshold) unconfirms what the agent says; fewer do not', () => {
    expect(observeEnforcement(facts({ tampers: { at: [T(6), T(7)], threshold: 3 } })).observed).toBe('confirmed');
    expect(observeEnforcement(facts({ tampers: { at: [T(6), T(7), T(8)], threshold: 3 } }))).toMatchObject({ observed: 'unconfirmed', since: T(6), reason: expect.stringMatching(/tampering 3 times, last at .*10:00:08/) });
  });

  it('an older generation, a failure, or a report from before the agent reconnected does not confirm', () => {
    expect(observeEnforcement(facts({ report: { status: 'applied', appliedGeneration: 2, error: undefined, at: T(5) } })).reason).toMatch(/holds generation 2, not 3/);
    expect(observeEnforcement(facts({ report: { status: 'failed', appliedGeneration: 3, error: 'nft: no such table', at: T(5) } })).reason).toMatch(/failed to apply: nft: no such table/);
    const back = { ...facts().link!, connectedSince: T(30) };
    expect(observeEnforcement(facts({ link: back }))).toMatchObject({ observed: 'unconfirmed', since: T(30), reason: expect.stringMatching(/reconnected at .* and has not reported since/) });
  });

  it('switch_only: the agent gone and the switch confirmed the port shut; since the port went down', () => {
    const o = observeEnforcement(facts({ link: gone, port: port() }));
    expect(o).toMatchObject({ observed: 'switch_only', since: T(20) });
    expect(o.reason).toMatch(/^switch port shut \(confirmed .*\); agent disconnected since/);
  });

  it('the switch never claims a cut it did not confirm: a failing switch, or a port recorded down but never read back', () => {
    const failing = observeEnforcement(facts({ link: gone, port: port({ down: false, changedAt: undefined, confirmedAt: undefined, failure: { kind: 'permission', error: 'host key changed', since: T(15) } }) }));
    expect(failing).toMatchObject({ observed: 'unconfirmed', since: T(10), reason: expect.stringMatching(/switch failing since .*10:00:15.*\(permission: host key changed\)/) });
    const downButFailing = observeEnforcement(facts({ link: gone, port: port({ failure: { kind: 'transient', error: 'timeout', since: T(25) } }) }));
    expect(downButFailing.observed).toBe('unconfirmed');
    expect(observeEnforcement(facts({ link: gone, port: port({ confirmedAt: undefined }) })).observed).toBe('unconfirmed');
  });

  it('a throttle or SMTP block cannot be held by the switch: the agent gone, it is unconfirmed whatever the port', () => {
    const o = observeEnforcement(facts({ cuts: false, link: gone, port: port() }));
    expect(o).toMatchObject({ observed: 'unconfirmed', reason: expect.stringMatching(/the switch cannot hold this restriction/) });
  });

  it('lifts: done only when the agent confirmed the generation without the actions and no port is held shut', () => {
    const lifted = { restricts: false, cuts: false, generation: 4, issuedAt: T(40) };
    const report = { status: 'applied' as const, appliedGeneration: 4, error: undefined, at: T(41) };
    expect(observeEnforcement(facts({ ...lifted, report }))).toEqual({ observed: 'none', since: T(41), reason: 'agent confirmed generation 4 with nothing in force' });
    // The agent crashed with its rules in place: the release is not done.
    expect(observeEnforcement(facts({ ...lifted, link: gone }))).toMatchObject({ observed: 'lifting', since: T(10), reason: expect.stringMatching(/^lift not confirmed: agent disconnected since/) });
    // The agent confirmed, but the switch port is still shut and failing: still cut, so not lifted.
    const shut = observeEnforcement(facts({ ...lifted, report, port: port({ failure: { kind: 'transient', error: 'connect timeout', since: T(42) } }) }));
    expect(shut).toMatchObject({ observed: 'lifting', since: T(20), reason: expect.stringMatching(/switch port still shut: switch failing since/) });
  });

  it('a host that never had anything decided is simply none', () => {
    expect(observeEnforcement(facts({ generation: 0, issuedAt: undefined, restricts: false, cuts: false, report: undefined, link: undefined }))).toEqual({ observed: 'none', since: undefined, reason: 'nothing decided' });
  });
});
