import { describe, expect, it } from 'vitest';
import { transition, type IncidentEvent } from '../../../controller/incidents/lifecycle.js';
import type { Incident } from '../../../controller/incidents/model.js';
import { HOUR, PATHS, T0, at, ctxAt, openEvent, run, sig } from './fixtures.js';

/** Recidivism counts only what was established; operator cuts pass the BMC gate. */

const reviewed = (i: Incident, e: IncidentEvent, now: Date, others: number) =>
  transition(i, e, ctxAt(now, { customerEstablishedInWindow: others }));

describe('established incidents (what counts toward a termination review)', () => {
  it('an acknowledged, fixed, or overdue-and-enforced trusted complaint is established', () => {
    expect(PATHS.acknowledged().incident.established).toBe(true);
    expect(PATHS.customer_resolved().incident.established).toBe(true);
    expect(PATHS.enforced().incident.established).toBe(true);
    expect(PATHS.enforced().incident.overdue).toBe(true);
    expect(PATHS.closed().incident.established).toBe(true);
  });

  it('opened, notified, escalated-only, untrusted, disputed-and-accepted, dismissed and operator-opened incidents are not', () => {
    expect(PATHS.received().incident.established).toBe(false);
    expect(PATHS.notified().incident.established).toBe(false);
    expect(PATHS.enforcing().incident.established).toBe(false); // decided, not yet in effect
    expect(PATHS.escalated().incident.established).toBe(false); // untrusted
    expect(PATHS.dismissed().incident.established).toBe(false);
    const accepted = run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'customer_false_positive' }, at(HOUR)],
      [{ type: 'operator_accept_dispute', operator: 'bob' }, at(2 * HOUR)],
    ]);
    expect(accepted.state).toBe('dismissed');
    expect(accepted.established).toBe(false);
    const untrustedAck = run([
      [openEvent('spam', false), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'customer_ack' }, at(HOUR)],
    ]);
    expect(untrustedAck.established).toBe(false);
    const operatorOpened = run([
      [{ ...openEvent('other', true), openedBy: 'operator' }, at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'customer_ack' }, at(HOUR)],
    ]);
    expect(operatorOpened.established).toBe(false);
  });

  it('an immediate category enforced at intake (no deadline passed) is not established until the customer answers', () => {
    const i = run([[openEvent('malware', true), at(0)], [{ type: 'host_applied' }, at(1000)]]);
    expect(i.state).toBe('enforced');
    expect(i.overdue).toBe(false);
    expect(i.established).toBe(false);
    expect(transition(i, { type: 'customer_fixed' }, ctxAt(at(HOUR))).incident.established).toBe(true);
  });

  it('a dismissal after establishment takes it back', () => {
    const acked = PATHS.acknowledged();
    const d = transition(acked.incident, { type: 'operator_dismiss', operator: 'bob', reason: 'duplicate of an older case' }, ctxAt(at(2 * HOUR)));
    expect(d.incident.established).toBe(false);
  });

  it('flags a review when an incident becomes established and the customer already has incidents - 1 established others', () => {
    const notified = PATHS.notified();
    for (const [others, review] of [[0, false], [1, false], [2, true], [6, true]] as const) {
      const r = reviewed(notified.incident, { type: 'customer_ack' }, at(HOUR), others);
      expect(r.effects.map(sig).includes('termination_review'), `others ${others}`).toBe(review);
      // Nothing tells the customer: the review is an operator's flag.
      expect(r.effects.filter((e) => e.type === 'mail')).toEqual([]);
    }
    // Already established: a later answer flags nothing again.
    const fixed = reviewed(PATHS.acknowledged().incident, { type: 'customer_fixed' }, at(2 * HOUR), 5);
    expect(fixed.effects.map(sig)).not.toContain('termination_review');
  });
});

describe('an operator cut passes the same BMC gate as the policy', () => {
  const operatorIsolate: IncidentEvent = { type: 'operator_enforce', operator: 'alice', action: { kind: 'isolate' }, reason: 'phishing kit' };

  it('with the BMC unchecked, dead or stale, an isolate waits for a check and an operator cannot push it through by asking again', () => {
    const notified = PATHS.notified();
    for (const bmc of [undefined, { reachable: false, checkedAt: at(HOUR), error: 'timeout' }, { reachable: true, checkedAt: T0 }]) {
      const r = transition(notified.incident, operatorIsolate, ctxAt(at(HOUR), { bmc }));
      expect(r.incident.hold).toBe('bmc_unreachable');
      expect(r.incident.pendingAction).toEqual({ kind: 'isolate' });
      expect(r.incident.actions).toEqual([]);
      expect(r.effects.map(sig)).toEqual(['queue:bmc_unreachable', 'bmc_check:before']);
      const again = transition(r.incident, operatorIsolate, ctxAt(at(HOUR + 1000), { bmc }));
      expect(again.incident.actions).toEqual([]);
      expect(again.effects.map(sig)).not.toContain('host:isolate');
    }
  });

  it('a good check lets the held operator cut proceed; an override with a reason does too', () => {
    const held = transition(PATHS.notified().incident, operatorIsolate, ctxAt(at(HOUR), { bmc: undefined })).incident;
    const ok = transition(held, { type: 'bmc_result', phase: 'before', reachable: true, checkedAt: at(HOUR + 5000) }, ctxAt(at(HOUR + 5000), { bmc: undefined }));
    expect(ok.incident.state).toBe('enforcing');
    expect(ok.incident.actions).toEqual([{ kind: 'isolate' }]);
    expect(ok.incident.pendingAction).toBeUndefined();
    expect(ok.effects.map(sig)).toEqual(['host:isolate']);
    const over = transition(held, { type: 'operator_override_bmc', operator: 'bob', reason: 'BMC on a separate OOB VPN, checked by phone' }, ctxAt(at(2 * HOUR), { bmc: undefined }));
    expect(over.incident.actions).toEqual([{ kind: 'isolate' }]);
    const hostEffect = over.effects.find((e) => e.type === 'host_actions');
    expect(hostEffect && 'reason' in hostEffect ? hostEffect.reason : '').toMatch(/overridden by bob/);
  });

  it('an SMTP block or a throttle needs no console; a cut with a fresh good check goes at once and carries its approval', () => {
    const smtp = transition(PATHS.notified().incident, { type: 'operator_enforce', operator: 'alice', action: { kind: 'smtp_block' }, reason: 'spam run' }, ctxAt(at(HOUR), { bmc: undefined }));
    expect(smtp.incident.actions).toEqual([{ kind: 'smtp_block' }]);
    const cut = transition(PATHS.notified().incident, { ...operatorIsolate, approvalId: 'apr-1' } as IncidentEvent, ctxAt(at(HOUR)));
    expect(cut.incident.actions).toEqual([{ kind: 'isolate' }]);
    expect(cut.incident.approvalId).toBe('apr-1');
  });

  it('the customer fixing it drops the pending cut', () => {
    const held = transition(PATHS.notified().incident, operatorIsolate, ctxAt(at(HOUR), { bmc: undefined })).incident;
    const fixed = transition(held, { type: 'customer_fixed' }, ctxAt(at(2 * HOUR)));
    expect(fixed.incident.pendingAction).toBeUndefined();
    expect(fixed.incident.hold).toBeUndefined();
  });
});
