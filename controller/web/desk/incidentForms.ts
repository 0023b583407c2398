import type { Enforcement } from '../../../proto/gen/cordon/v1/agent.js';
import { Answer, Decision } from '../../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { MAX_REASON_CHARS } from '../../desk/customerVoiceDesk.js';
import { MAX_NOTE_CHARS } from '../../desk/incidentDesk.js';
import { formField } from './deskReplies.js';

/**
 * The incident page's forms read into DeskService requests. Only what the
 * form itself must say is checked here (a known choice, a readable number or
 * time, the length the page offers); whether the action fits the incident is
 * the handler's and the lifecycle's, so their refusals are the page's too.
 * Each refusal is `invalid` naming the form's field.
 */

export const DESK_DECISIONS = {
  verify: { label: 'Verify', value: Decision.DECISION_VERIFY, help: "customer resolved: close; disputed or appealed: accept the customer's side (an appeal needs a reason)", reason: 'optional' },
  reject_dispute: { label: 'Reject the dispute', value: Decision.DECISION_REJECT_DISPUTE, help: "the complaint stands (the fix does not hold, the dispute or the appeal fails): a new deadline; the reason is sent to the customer", reason: 'required' },
  dismiss: { label: 'Dismiss', value: Decision.DECISION_DISMISS, help: 'the complaint was wrong: close without consequence and lift any restriction', reason: 'required' },
  release: { label: 'Release', value: Decision.DECISION_RELEASE, help: 'lift the restriction in force', reason: 'optional' },
  override_bmc: { label: 'Override the BMC check', value: Decision.DECISION_OVERRIDE_BMC, help: "the cut held for the BMC goes ahead although the host's console did not answer", reason: 'required' },
} as const;
export type DeskDecision = keyof typeof DESK_DECISIONS;

export const DESK_ANSWERS = {
  ack: { label: 'acknowledged', value: Answer.ANSWER_ACK },
  fixed: { label: 'fixed', value: Answer.ANSWER_FIXED },
  false_positive: { label: 'a false positive', value: Answer.ANSWER_FALSE_POSITIVE },
  plan: { label: 'a plan, with a date', value: Answer.ANSWER_PLAN },
} as const;
export type DeskAnswer = keyof typeof DESK_ANSWERS;

export const DESK_ACTIONS = {
  smtp_block: 'block outgoing mail (SMTP ports 25, 465, 587)',
  throttle: 'limit its traffic to a rate',
  isolate: 'isolate it (all public traffic dropped; management and BMC stay)',
  nic_down: 'take its public interfaces down',
} as const;
export type DeskAction = keyof typeof DESK_ACTIONS;

/** The fastest link a throttle can sensibly name, in Mbit/s; the handler refuses below 8 kbit/s itself. */
export const MAX_RATE_MBPS = 100_000;

function choice<T extends string>(body: unknown, field: string, allowed: Record<T, unknown>): T {
  const v = formField(body, field);
  if (!Object.hasOwn(allowed, v)) throw new CordonError('invalid', `must be one of ${Object.keys(allowed).join(', ')}`, { field });
  return v as T;
}

function bounded(body: unknown, field: string, max: number): string {
  const v = formField(body, field);
  if (v.length > max) throw new CordonError('invalid', `at most ${max} characters, got ${v.length}`, { field });
  return v;
}

/** A time from the form: ISO 8601, or a datetime-local value read as UTC (the desk shows every time in UTC). */
export function formTime(body: unknown, field: string): Date | undefined {
  const v = formField(body, field).trim();
  if (!v) return undefined;
  if (v.length > 40) throw new CordonError('invalid', 'at most 40 characters', { field });
  const utc = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(v) ? `${v}Z` : v;
  const d = /^\d{4}-\d\d-\d\d/.test(utc) ? new Date(utc) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new CordonError('invalid', `not a time: ${JSON.stringify(v)} (ISO 8601, e.g. 2026-11-05T09:00:00Z)`, { field });
  return d;
}

export function parseDecideForm(body: unknown): { decision: DeskDecision; value: Decision; reason: string } {
  const decision = choice(body, 'decision', DESK_DECISIONS);
  return { decision, value: DESK_DECISIONS[decision].value, reason: bounded(body, 'reason', MAX_REASON_CHARS) };
}

export function parseAnswerForm(body: unknown): { answer: DeskAnswer; value: Answer; planDueAt: Date | undefined; note: string } {
  const answer = choice(body, 'answer', DESK_ANSWERS);
  const planDueAt = answer === 'plan' ? formTime(body, 'planDueAt') : undefined;
  return { answer, value: DESK_ANSWERS[answer].value, planDueAt, note: bounded(body, 'note', MAX_NOTE_CHARS) };
}

/** The enforce form as EnforceRequest's action: a throttle's rate is typed in Mbit/s and sent in bits per second. */
export function parseEnforceForm(body: unknown): { action: DeskAction; enforcement: Enforcement; reason: string } {
  const action = choice(body, 'action', DESK_ACTIONS);
  const reason = bounded(body, 'reason', MAX_REASON_CHARS);
  const base = { id: '', incidentId: '', reason: '' };
  switch (action) {
    case 'smtp_block':
      return { action, reason, enforcement: { ...base, action: { $case: 'smtpBlock', value: { ports: [], allowedRelays: [] } } } };
    case 'throttle': {
      const text = formField(body, 'rate').trim();
      const mbps = /^\d{1,6}(\.\d{1,6})?$/.test(text) ? Number(text) : NaN;
      if (!(mbps > 0 && mbps <= MAX_RATE_MBPS)) throw new CordonError('invalid', `a throttle needs a rate in Mbit/s, above 0 and at most ${MAX_RATE_MBPS}, got ${JSON.stringify(text)}`, { field: 'rate' });
      return { action, reason, enforcement: { ...base, action: { $case: 'throttle', value: { rateBps: BigInt(Math.round(mbps * 1_000_000)) } } } };
    }
    case 'isolate':
      return { action, reason, enforcement: { ...base, action: { $case: 'isolate', value: {} } } };
    case 'nic_down':
      return { action, reason, enforcement: { ...base, action: { $case: 'nicDown', value: {} } } };
  }
}
