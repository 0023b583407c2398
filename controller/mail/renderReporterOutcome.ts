import { CordonError } from '../../proto/runtime/CordonError.js';
import { CATEGORIES, type Category } from '../incidents/model.js';
import { describeCategory } from './describeAction.js';
import { blocks, bullets, oneLine, paragraph, utc } from './plainText.js';
import type { MailInput, RenderedMail } from './renderMail.js';

export const REPORTER_OUTCOME = 'reporter_outcome';

export const REPORT_OUTCOMES = ['resolved', 'dismissed', 'under_review'] as const;
/** resolved: the incident was handled and closed; dismissed: no abuse established; under_review: a person still looks at the report. */
export type ReportOutcome = (typeof REPORT_OUTCOMES)[number];

/**
 * The outbox row of an outcome mail to a reporter. It names the reporter's
 * own facts only — the addresses they reported, when, our reference — never
 * the customer, the server or anything the customer said: a reporter is a
 * third party. Queued without an incident id, so nothing that acts on an
 * incident's mail (a bounce pausing its deadlines) mistakes it for the
 * customer's.
 */
export interface ReporterOutcomePayload {
  template: typeof REPORTER_OUTCOME;
  /** The reporter's reply address, as captured from an authenticated report. */
  to: { name: string; email: string };
  /** Our reference: the incident id, which the reporter can quote. */
  reference: string;
  category: Category;
  outcome: ReportOutcome;
  /** The addresses this reporter reported in it, and when we received the first report. */
  ips: string[];
  firstReceivedAt: Date;
  /** When the incident ended. */
  endedAt: Date;
  /** The reporter's report's Message-ID, to thread the answer under it. */
  inReplyTo?: string | undefined;
}

/**
 * Renders the outcome mail to a reporter. Pure: the same row gives the same
 * bytes. Marked `Auto-Submitted: auto-replied` (RFC 3834): it answers their
 * report, so their own responders stay quiet and no loop starts.
 */
export function renderReporterOutcome(input: ReporterOutcomePayload & { desk: MailInput['desk'] }): RenderedMail {
  const tag = `[Cordon #${input.reference}]`;
  const what = describeCategory(input.category);
  const outcome: Record<ReportOutcome, string> = {
    resolved: `Outcome: resolved. We acted on the report and the incident was closed at ${utc(input.endedAt)}; the reported activity is considered stopped.`,
    dismissed: `Outcome: dismissed. After review on ${utc(input.endedAt)}, we found that the report did not establish ${what} from this address, and took no further action.`,
    under_review: `Outcome: still under review. The incident this report joined ended at ${utc(input.endedAt)}, but your report concerns an earlier event that a person on our abuse desk still has to look at.`,
  };
  const headers: Record<string, string> = {
    'X-Cordon-Reference': oneLine(input.reference),
    'X-Cordon-Template': REPORTER_OUTCOME,
    'Auto-Submitted': 'auto-replied',
  };
  if (input.inReplyTo && /^[^\s<>]+$/.test(input.inReplyTo)) {
    headers['In-Reply-To'] = `<${input.inReplyTo}>`;
    headers['References'] = `<${input.inReplyTo}>`;
  }
  return {
    subject: oneLine(`${tag} Outcome of your abuse report about ${input.ips[0]}${input.ips.length > 1 ? ` and ${input.ips.length - 1} more` : ''}`),
    text: blocks(
      'Hello,',
      paragraph(`Thank you for your report of ${what} from ${input.ips.length === 1 ? 'the address' : 'the addresses'} below, first received ${utc(input.firstReceivedAt)} (UTC).`),
      bullets(input.ips),
      paragraph(outcome[input.outcome]),
      paragraph(`Our reference is ${input.reference}; please quote ${tag} if you write to us about it. This mail goes to the reply address of your report; it is sent once per report and case.`),
      `-- \n${input.desk.name}\n${input.desk.replyTo}`,
    ),
    attachments: [],
    headers,
  };
}

/** Reads a stored reporter-outcome row back (dates from ISO strings); `invalid` naming the field, never retried. */
export function parseReporterOutcomePayload(o: Record<string, unknown>): ReporterOutcomePayload {
  const invalid = (field: string, what: string) => new CordonError('invalid', `outbox mail payload: ${what}`, { field });
  const str = (v: Record<string, unknown>, key: string, at = ''): string => {
    if (typeof v[key] !== 'string' || v[key] === '') throw invalid(`${at}${key}`, 'not a string');
    return v[key] as string;
  };
  const date = (key: string): Date => {
    const v = o[key];
    const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : undefined;
    if (!d || Number.isNaN(d.getTime())) throw invalid(key, 'not a date');
    return d;
  };
  if (o.template !== REPORTER_OUTCOME) throw invalid('template', `not ${REPORTER_OUTCOME}`);
  if (typeof o.to !== 'object' || o.to === null || Array.isArray(o.to)) throw invalid('to', 'not an object');
  const to = o.to as Record<string, unknown>;
  const email = str(to, 'email', 'to.');
  if (!/^[^\s@<>,;]+@[^\s@<>,;]+$/.test(email)) throw invalid('to.email', 'not a bare mail address');
  const category = str(o, 'category');
  if (!(CATEGORIES as readonly string[]).includes(category)) throw invalid('category', `unknown value ${JSON.stringify(category)}`);
  const outcome = str(o, 'outcome');
  if (!(REPORT_OUTCOMES as readonly string[]).includes(outcome)) throw invalid('outcome', `unknown value ${JSON.stringify(outcome)}`);
  if (!Array.isArray(o.ips) || o.ips.length === 0 || !o.ips.every((x) => typeof x === 'string' && x !== '')) throw invalid('ips', 'not a list of addresses');
  const inReplyTo = o.inReplyTo === undefined || o.inReplyTo === null ? undefined : str(o, 'inReplyTo');
  return {
    template: REPORTER_OUTCOME,
    to: { name: typeof to.name === 'string' ? to.name : '', email },
    reference: str(o, 'reference'),
    category: category as Category,
    outcome: outcome as ReportOutcome,
    ips: o.ips as string[],
    firstReceivedAt: date('firstReceivedAt'),
    endedAt: date('endedAt'),
    ...(inReplyTo ? { inReplyTo } : {}),
  };
}
