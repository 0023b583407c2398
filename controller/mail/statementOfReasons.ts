import type { Action, Category } from '../incidents/model.js';
import { describeAction, describeCategory } from './describeAction.js';
import { eventWords, missedDeadline, scopeBlock, urlLine } from './mailBlocks.js';
import { bullets, paragraph, utc } from './plainText.js';
import type { MailInput } from './renderMail.js';

/** The complaints a restriction rests on, as the statement lists them (no report text: facts only). */
export interface StatementFact {
  ip: string;
  eventTime?: Date | undefined;
  /** 'receipt': the report states no event time and eventTime is its own date. */
  eventTimeSource?: string | undefined;
  receivedAt: Date;
  reporter: string;
  /** What the reporter says was observed (the parsed evidence; an operator's text for a complaint they entered). */
  observed: string;
}

/**
 * Who decided the restriction: the policy ladder (after an unanswered
 * deadline, or at once for an immediate category), or an operator.
 */
export type StatementDecision =
  | { by: 'policy'; step: number; action: Action; trigger: 'deadline' | 'immediate' }
  | { by: 'operator'; operator: string; reason: string };

/** The facts of a restriction mail's statement of reasons, snapshotted when the mail is queued. */
export interface StatementInput {
  facts: StatementFact[];
  /** The incident's complaints in all; `facts` may list fewer (the first ones). */
  total: number;
  decision: StatementDecision;
}

/** The desk's side of the statement: the clause restrictions rest on and other redress (`statement.*` in config). */
export interface StatementConfig {
  contractClause: string;
  redress: string;
}

/** Used when the desk's config names none (tests, tools): honest, if generic. */
export const DEFAULT_STATEMENT: StatementConfig = {
  contractClause: 'the acceptable use policy of your service contract',
  redress: 'You may also seek redress before the competent courts.',
};

const OBSERVED_MAX = 300;

/**
 * The statement of reasons every restriction mail carries (EU Digital
 * Services Act, Art. 17(3)): the facts, the ground, whether the decision was
 * automated or by whom, which servers it affects, and how to contest it.
 * Undefined when the mail restricts nothing.
 */
export function statementOfReasons(input: MailInput, tag: string): string | false {
  const s = input.statement;
  if (!s || input.actions.length === 0) return false;
  const config = input.desk.statement ?? DEFAULT_STATEMENT;
  const i = input.incident;
  const facts =
    s.facts.length > 0
      ? `${paragraph(
          `Facts: ${s.total === 1 ? 'one complaint' : `${s.total} complaints`} about ${describeCategory(i.category)} from server ${input.host.id}` +
            `${s.facts.length < s.total ? ` (the first ${s.facts.length} listed)` : ''}; the event times are the reporters' (UTC):`,
        )}\n${bullets(s.facts.map(factLine))}`
      : paragraph(`Facts: our abuse desk opened this incident about server ${input.host.id} without a complaint from outside; the reason is given below.`);
  return [
    'STATEMENT OF REASONS (EU Digital Services Act, Article 17)',
    facts,
    paragraph(`Ground: ${ground(s.decision, i.category)} The restriction relies on ${config.contractClause}.`),
    paragraph(`Automated decision: ${decision(input)}`),
    paragraph(`Servers affected: the restriction applies to server ${input.host.id} only, and its IPMI console stays reachable.`),
    scopeBlock(input),
    contest(input, tag, config),
  ]
    .filter((b): b is string => typeof b === 'string')
    .join('\n\n');
}

function factLine(f: StatementFact): string {
  const observed = f.observed.replace(/\s+/g, ' ').trim();
  const cut = observed.length > OBSERVED_MAX ? `${observed.slice(0, OBSERVED_MAX)} [...]` : observed;
  return `${f.ip}, ${eventWords(f)}, received ${utc(f.receivedAt)}, from ${f.reporter}: ${cut || 'no detail given'}`;
}

function ground(d: StatementDecision, category: Category): string {
  if (d.by === 'policy') return `ladder step ${d.step} of our policy for ${describeCategory(category)}: ${describeAction(d.action)}.`;
  return `the decision of an abuse desk operator, who gave this reason: ${d.reason}.`;
}

function decision(input: MailInput): string {
  const d = input.statement!.decision;
  if (d.by === 'policy') {
    const missed = missedDeadline(input.incident);
    const when =
      d.trigger === 'deadline'
        ? missed
          ? `the deadline to ${missed.what} passed at ${utc(missed.at)} without an answer`
          : 'a deadline passed without an answer'
        : `complaints about ${describeCategory(input.incident.category)} from a trusted reporter are acted on at once`;
    return `yes. Our policy applied this step by itself because ${when}; no person decided this case. An operator reviews it when you answer.`;
  }
  const approval = input.approval;
  return (
    `no. A person decided it: ${d.operator}, operator of our abuse desk` +
    (approval ? `, approved by a second operator, ${approval.approvedBy} (approval ${approval.id}).` : '.')
  );
}

function contest(input: MailInput, tag: string, config: StatementConfig): string {
  const parts = [
    paragraph(
      input.pageUrl
        ? 'How to contest it: on the page of this incident, answer "false positive" with your evidence (the restriction stays until an operator decides, and you are told the decision):'
        : `How to contest it: reply to this mail keeping ${tag} in the subject, answering "false positive" with your evidence (the restriction stays until an operator decides, and you are told the decision).`,
    ),
  ];
  if (input.pageUrl) parts.push(urlLine(input.pageUrl), paragraph(`or reply to this mail keeping ${tag} in the subject.`));
  parts.push(paragraph(config.redress));
  return parts.join('\n');
}
