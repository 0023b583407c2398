import { describe, expect, it } from 'vitest';
import { nextDueAt, transition } from '../../../controller/incidents/lifecycle.js';
import type { Incident } from '../../../controller/incidents/model.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { HOUR, PATHS, ctxAt, expectRefused, openEvent, sig } from './fixtures.js';

const MIN = 60_000;

/** The enforced spam incident (SMTP block) at the moment its next rung (ISOLATE) is due. */
function rungDue(): { incident: Incident; now: Date; dueAt: Date } {
  const { incident } = PATHS.enforced();
  const dueAt = nextDueAt(incident, DEFAULT_POLICY)!;
  return { incident, dueAt, now: new Date(dueAt.getTime() + 1) };
}

describe('the BMC gate around cuts', () => {
  it('holds a cut when the BMC was never checked, asks for a check, and keeps the SMTP block', () => {
    const { incident, dueAt, now } = rungDue();
    const r = transition(incident, { type: 'deadline', dueAt }, ctxAt(now, { bmc: undefined }));
    expect(r.incident).toMatchObject({ state: 'enforced', hold: 'bmc_unreachable', actions: [{ kind: 'smtp_block' }] });
    expect(r.effects.map(sig)).toEqual(['queue:bmc_unreachable', 'bmc_check:before']);
    expect(r.effects[0]).toMatchObject({ reason: 'isolate waits: the BMC was never checked' });
  });

  it('holds on an unreachable or a stale check, and cuts on a fresh good one', () => {
    const { incident, dueAt, now } = rungDue();
    const down = transition(incident, { type: 'deadline', dueAt }, ctxAt(now, { bmc: { reachable: false, checkedAt: now, error: 'timeout' } }));
    expect(down.incident.hold).toBe('bmc_unreachable');
    const stale = transition(incident, { type: 'deadline', dueAt }, ctxAt(now, { bmc: { reachable: true, checkedAt: new Date(now.getTime() - 16 * MIN) } }));
    expect(stale.effects[0]).toMatchObject({ reason: 'isolate waits: the last BMC check is 16 min old' });
    const fresh = transition(incident, { type: 'deadline', dueAt }, ctxAt(now, { bmc: { reachable: true, checkedAt: new Date(now.getTime() - 5 * MIN) } }));
    expect(fresh.incident).toMatchObject({ state: 'enforcing', hold: undefined, bmcVerifiedAt: new Date(now.getTime() - 5 * MIN) });
    expect(fresh.effects.map(sig)).toEqual(['host:smtp_block+isolate']);
  });

  it('cuts once a check answers, ignores a failed one, and lets an operator override', () => {
    const { incident, dueAt, now } = rungDue();
    const held = transition(incident, { type: 'deadline', dueAt }, ctxAt(now, { bmc: undefined })).incident;
    const later = new Date(now.getTime() + MIN);
    const failed = transition(held, { type: 'bmc_result', phase: 'before', reachable: false, checkedAt: later, error: 'timeout' }, ctxAt(later, { bmc: undefined }));
    expect(failed.changed).toBe(false);
    const ok = transition(held, { type: 'bmc_result', phase: 'before', reachable: true, checkedAt: later }, ctxAt(later, { bmc: undefined }));
    expect(ok.incident).toMatchObject({ state: 'enforcing', bmcVerifiedAt: later });
    expect(ok.effects.map(sig)).toEqual(['host:smtp_block+isolate']);
    const overridden = transition(held, { type: 'operator_override_bmc', operator: 'alice', reason: 'customer confirmed console by phone' }, ctxAt(later, { bmc: undefined }));
    expect(overridden.incident.state).toBe('enforcing');
    expect(overridden.incident.bmcVerifiedAt).toBeUndefined();
    expectRefused(incident, { type: 'operator_override_bmc', operator: 'alice', reason: 'x' }, ctxAt(later));
  });

  it('never gates SMTP block or throttle', () => {
    const ddos = transition(undefined, openEvent('ddos', true), ctxAt(new Date(0), { bmc: undefined }));
    expect(ddos.incident.state).toBe('enforcing');
    expect(ddos.effects.map(sig)).toContain('host:throttle');
    const malware = transition(undefined, openEvent('malware', true), ctxAt(new Date(0), { bmc: undefined }));
    expect(malware.incident).toMatchObject({ state: 'escalated', hold: 'bmc_unreachable', actions: [] });
  });

  it('checks again after a cut took effect, and alerts when the console stopped answering', () => {
    const malware = transition(undefined, openEvent('malware', true), ctxAt(new Date(0))).incident;
    expect(malware.state).toBe('enforcing');
    const applied = transition(malware, { type: 'host_applied' }, ctxAt(new Date(HOUR)));
    expect(applied.effects.map(sig)).toEqual(['mail:enforced', 'bmc_check:after']);
    const lost = transition(applied.incident, { type: 'bmc_result', phase: 'after', reachable: false, checkedAt: new Date(HOUR + MIN), error: 'auth' }, ctxAt(new Date(HOUR + MIN)));
    expect(lost.effects.map(sig)).toEqual(['alert']);
    expect(lost.incident.state).toBe('enforced');
    const fine = transition(applied.incident, { type: 'bmc_result', phase: 'after', reachable: true, checkedAt: new Date(HOUR + MIN) }, ctxAt(new Date(HOUR + MIN)));
    expect(fine.incident.bmcVerifiedAt).toEqual(new Date(HOUR + MIN));
  });
});
