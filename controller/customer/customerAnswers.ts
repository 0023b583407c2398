import { CordonError } from '../../proto/runtime/CordonError.js';
import type { IncidentEvent } from '../incidents/lifecycle.js';
import type { IncidentState } from '../incidents/model.js';
import { ANSWERS, type CustomerAnswer } from '../store/CustomerMessagesRepo.js';

/**
 * What a customer may answer on the page, pure: which answers each state
 * allows (the lifecycle's own table, so the page never offers a button the
 * lifecycle refuses), the event each answer is, and the form's validation.
 */

/** The longest text an answer may carry (characters). */
export const MAX_TEXT_CHARS = 20_000;

/** Where each answer applies, as lifecycle.ts accepts it. */
const ALLOWED: Record<CustomerAnswer, readonly IncidentState[]> = {
  ack: ['notified'],
  fixed: ['notified', 'acknowledged', 'plan_accepted', 'escalated', 'disputed', 'enforcing', 'enforced', 'appealed'],
  false_positive: ['notified', 'acknowledged', 'plan_accepted', 'escalated', 'enforcing', 'enforced'],
  plan: ['notified', 'acknowledged', 'escalated'],
};

/** One answer the page offers, with its label (a false positive against a restriction in force is an appeal). */
export interface AnswerOption {
  answer: CustomerAnswer;
  label: string;
}

/** The answers the page offers in this state, in the order it shows them. */
export function allowedAnswers(state: IncidentState): AnswerOption[] {
  const restricted = state === 'enforcing' || state === 'enforced';
  return ANSWERS.filter((a) => ALLOWED[a].includes(state)).map((answer) => ({
    answer,
    label: {
      ack: 'Acknowledge: we received this and are looking into it',
      fixed: restricted || state === 'appealed' ? 'Fixed: ask for the restriction to be lifted' : 'Fixed: the problem is solved',
      false_positive: restricted ? 'Contest this restriction (false positive)' : 'False positive: this is not abuse from our server',
      plan: 'Plan: we will fix it by a date',
    }[answer],
  }));
}

/** A validated answer form. */
export interface AnswerForm {
  answer: CustomerAnswer;
  text: string;
  planDueAt: Date | undefined;
}

/** The lifecycle event an answer is (the same as `cordonctl incident answer`). */
export function eventFor(form: AnswerForm): IncidentEvent {
  switch (form.answer) {
    case 'ack':
      return { type: 'customer_ack' };
    case 'fixed':
      return { type: 'customer_fixed' };
    case 'false_positive':
      return { type: 'customer_false_positive' };
    case 'plan':
      return { type: 'customer_plan', dueAt: form.planDueAt! };
  }
}

const invalid = (field: string, message: string): never => {
  throw new CordonError('invalid', message, { field });
};

const DAY = 86_400_000;

/**
 * Checks the form's fields; throws an `invalid` CordonError naming the field
 * and its limit. `planDueAt` is a date (`YYYY-MM-DD`, meaning the end of that
 * day) or a datetime-local (`YYYY-MM-DDTHH:MM`), in UTC unless `tz` gives an
 * offset (`+02:00`, `-05:30`, `Z`) — the page's script sends the browser's.
 */
export function parseAnswerForm(fields: Record<string, string | undefined>, now: Date, maxPlanDays: number): AnswerForm {
  const answer = fields.answer;
  if (!answer || !(ANSWERS as readonly string[]).includes(answer)) invalid('answer', `must be one of ${ANSWERS.join(', ')}`);
  const text = (fields.text ?? '').replace(/\r\n/g, '\n').trim();
  if ([...text].length > MAX_TEXT_CHARS) invalid('text', `may be at most ${MAX_TEXT_CHARS} characters`);
  const what = { fixed: 'what you did to fix it', false_positive: 'why this is a false positive', plan: 'your plan' }[answer as Exclude<CustomerAnswer, 'ack'>];
  if (answer !== 'ack' && text === '') invalid('text', `please describe ${what}`);
  let planDueAt: Date | undefined;
  if (answer === 'plan') {
    planDueAt = parsePlanDate(fields.planDueAt ?? '', fields.tz ?? '');
    if (planDueAt.getTime() <= now.getTime()) invalid('planDueAt', 'must be in the future');
    if (planDueAt.getTime() > now.getTime() + maxPlanDays * DAY) {
      invalid('planDueAt', `may be at most ${maxPlanDays} days from now (policy.maxPlanDays)`);
    }
  }
  return { answer: answer as CustomerAnswer, text, planDueAt };
}

function parsePlanDate(value: string, tz: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?$/.exec(value.trim());
  if (!m) return invalid('planDueAt', 'must be a date YYYY-MM-DD or a date and time YYYY-MM-DDTHH:MM');
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number | undefined, number | undefined];
  const offset = parseOffset(tz);
  // A bare date means the whole of that day: the customer has until its end.
  const hasTime = m[4] !== undefined;
  const local = Date.UTC(y, mo - 1, d, hasTime ? h! : 23, hasTime ? mi! : 59);
  const back = new Date(local);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || (hasTime && (h! > 23 || mi! > 59))) {
    invalid('planDueAt', `${value} is not a date`);
  }
  return new Date(local - offset * 60_000);
}

/** Minutes east of UTC; empty means UTC. */
function parseOffset(tz: string): number {
  const t = tz.trim();
  if (t === '' || t === 'Z') return 0;
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(t);
  if (!m || Number(m[2]) > 14 || Number(m[3]) > 59) return invalid('tz', 'must be an offset from UTC like +02:00');
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

const STATE_WORDS: Record<IncidentState, string> = {
  received: 'Opened: our notice to you is on its way.',
  notified: 'Waiting for your answer.',
  acknowledged: 'You acknowledged it. We are waiting for the fix, a justification that it is a false positive, or a plan.',
  customer_resolved: 'You reported it fixed. A person of the abuse desk will verify it.',
  disputed: 'You said it is a false positive. A person of the abuse desk will decide.',
  plan_accepted: 'Your plan is recorded. Please fix the problem by its due date.',
  escalated: 'A deadline passed without an answer, or the complaint is urgent: the incident is escalated and a restriction may be applied. You can still answer.',
  enforcing: 'A restriction is being applied to this server.',
  enforced: 'A restriction is in force on this server.',
  release_requested: 'You reported it fixed. A person of the abuse desk will check it and lift the restriction.',
  appealed: 'You contested the restriction. It stays in force until a person of the abuse desk decides.',
  releasing: 'The abuse desk lifted the restriction; we are waiting for the server to confirm it is gone.',
  released: 'The restriction was lifted.',
  closed: 'Closed: nothing more is needed from you.',
  dismissed: 'Dismissed: nothing more is needed from you.',
};

/** The incident's state as the customer reads it. */
export function describeState(state: IncidentState): string {
  return STATE_WORDS[state];
}

const ANSWER_VERBS: Record<CustomerAnswer, string> = {
  ack: 'acknowledge it',
  fixed: 'report it fixed',
  false_positive: 'report a false positive',
  plan: 'give a plan',
};

/** Why an answer no longer applies, in words (the 409 page). */
export function whyNotAllowed(answer: CustomerAnswer, state: IncidentState): string {
  return `You can no longer ${ANSWER_VERBS[answer]} here, because the incident has moved on: ${describeState(state)}`;
}

/** What an answer was, in the customer's history. */
export function describeAnswer(answer: CustomerAnswer): string {
  return { ack: 'Acknowledged', fixed: 'Reported fixed', false_positive: 'Reported a false positive', plan: 'Gave a plan' }[answer];
}
