import { describe, expect, it } from 'vitest';
import { transition } from '../incidents/lifecycle.js';
import { INCIDENT_STATES, type Incident } from '../incidents/model.js';
import { DEFAULT_POLICY } from '../incidents/policy.js';
import { allowedAnswers, eventFor, parseAnswerForm } from './customerAnswers.js';

const NOW = new Date('2026-11-02T09:00:00Z');
const parse = (fields: Record<string, string>) => {
  try {
    return parseAnswerForm(fields, NOW, 30);
  } catch (err) {
    return (err as Error).message;
  }
};

describe('customer answers', () => {
  it('offers exactly the answers the lifecycle accepts, in every state', () => {
    const incident = (state: Incident['state']): Incident => ({
      id: 'inc-1', hostId: 'web-01', customerId: 'acme', category: 'spam', state, trusted: true, openedAt: NOW, notifiedAt: NOW,
      ackDueAt: new Date(NOW.getTime() + 86_400_000), resolveDueAt: new Date(NOW.getTime() + 3 * 86_400_000), acknowledgedAt: undefined, answeredAt: undefined,
      escalatedAt: undefined, step: 0, actions: [], hold: undefined, closedAt: undefined, complaintCount: 1, established: false, overdue: false, openedBy: 'complaint',
    });
    const ctx = { now: NOW, policy: DEFAULT_POLICY, automaticInLastHour: 0, customerEstablishedInWindow: 0, bmc: undefined };
    for (const state of INCIDENT_STATES) {
      const offered = allowedAnswers(state).map((o) => o.answer);
      for (const answer of ['ack', 'fixed', 'false_positive', 'plan'] as const) {
        const event = eventFor({ answer, text: 'x', planDueAt: new Date(NOW.getTime() + 86_400_000) });
        let accepted = true;
        try {
          transition(incident(state), event, ctx);
        } catch {
          accepted = false;
        }
        expect({ state, answer, offered: offered.includes(answer) }).toEqual({ state, answer, offered: accepted });
      }
    }
    expect(allowedAnswers('enforced').find((o) => o.answer === 'false_positive')?.label).toBe('Contest this restriction (false positive)');
  });

  it('reads a plan date as the end of that day, in UTC or the sent offset, within policy.maxPlanDays', () => {
    expect(parse({ answer: 'plan', text: 'p', planDueAt: '2026-11-10' })).toMatchObject({ planDueAt: new Date('2026-11-10T23:59:00Z') });
    expect(parse({ answer: 'plan', text: 'p', planDueAt: '2026-11-10', tz: '+02:00' })).toMatchObject({ planDueAt: new Date('2026-11-10T21:59:00Z') });
    expect(parse({ answer: 'plan', text: 'p', planDueAt: '2026-11-10T08:30', tz: '-05:30' })).toMatchObject({ planDueAt: new Date('2026-11-10T14:00:00Z') });
    expect(parse({ answer: 'plan', text: 'p', planDueAt: '2026-12-03' })).toBe('planDueAt: may be at most 30 days from now (policy.maxPlanDays)');
    expect(parse({ answer: 'plan', text: 'p', planDueAt: '2026-11-01' })).toBe('planDueAt: must be in the future');
    expect(parse({ answer: 'plan', text: 'p', planDueAt: '2026-02-30' })).toBe('planDueAt: 2026-02-30 is not a date');
    expect(parse({ answer: 'plan', text: 'p', planDueAt: 'next week' })).toMatch(/^planDueAt: must be a date YYYY-MM-DD/);
    expect(parse({ answer: 'plan', text: 'p', planDueAt: '2026-11-10', tz: 'Europe/Berlin' })).toBe('tz: must be an offset from UTC like +02:00');
  });

  it('needs words for everything but an acknowledgement, within the text limit', () => {
    expect(parse({ answer: 'ack' })).toMatchObject({ answer: 'ack', text: '' });
    expect(parse({ answer: 'fixed', text: ' \r\n ' })).toBe('text: please describe what you did to fix it');
    expect(parse({ answer: 'false_positive', text: 'x'.repeat(20_001) })).toBe('text: may be at most 20000 characters');
    expect(parse({ answer: 'delete_incident', text: 'x' })).toBe('answer: must be one of ack, fixed, false_positive, plan');
  });
});
