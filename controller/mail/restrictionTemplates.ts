import { describeAction, describeCategory } from './describeAction.js';
import { consoleBlock, missedDeadline, scopeBlock, server, urlLine, type Template } from './mailBlocks.js';
import { bullets, paragraph, utc } from './plainText.js';
import type { MailInput } from './renderMail.js';
import { statementOfReasons } from './statementOfReasons.js';

/** The statement of reasons when the mail restricts something and carries its facts; else the scope alone, as before. */
function reasonsOrScope(input: MailInput, tag: string): string | false {
  return statementOfReasons(input, tag) || scopeBlock(input);
}

/** How to answer a restriction mail: the page, when there is one, then a reply. */
function answerLine(input: MailInput, tag: string, what: string): string {
  if (!input.pageUrl) return paragraph(`${what} reply to this mail keeping ${tag} in the subject.`);
  return [paragraph(`${what} answer on the page of this incident:`), urlLine(input.pageUrl), paragraph(`or reply to this mail keeping ${tag} in the subject.`)].join('\n');
}

/** A deadline passed (or an immediate category): what we will apply, and why. */
export const escalated: Template = (input, tag) => {
  const i = input.incident;
  const missed = missedDeadline(i);
  const why = missed
    ? `The deadline to ${missed.what} for incident ${i.id} passed at ${utc(missed.at)} without an answer.`
    : `Complaints about ${describeCategory(i.category)} are handled at once, without waiting for a deadline.`;
  const action =
    input.actions.length > 0
      ? `${paragraph(
          `Because ${describeCategory(i.category)} from your ${server(input)} threatens our network ` +
            `(${i.complaintCount} complaint${i.complaintCount === 1 ? '' : 's'} so far), we will apply the following to this server:`,
        )}\n${bullets(input.actions.map(describeAction))}`
      : paragraph(`An operator of the abuse desk decides which action to take on your ${server(input)}.`);
  return [
    `Deadline passed: action on server ${input.host.id}`,
    [
      paragraph(why),
      action,
      reasonsOrScope(input, tag),
      consoleBlock(input),
      answerLine(input, tag, 'You can still answer with "fixed", "false positive" (with evidence) or a plan with a date:'),
    ],
    [],
  ];
};

/** The restriction is in place: what, why (statement of reasons), how to get released. */
export const enforced: Template = (input, tag) => [
  `Restrictions applied to server ${input.host.id}`,
  [
    `${paragraph(`The following is now in place on your ${server(input)}:`)}\n${bullets(input.actions.map(describeAction))}`,
    // The statement names the approving operator itself; without one, say it here.
    !input.statement &&
      !!input.approval &&
      paragraph(`This action was requested by ${input.approval.requestedBy} and approved by a second operator, ${input.approval.approvedBy} (approval ${input.approval.id}).`),
    reasonsOrScope(input, tag),
    answerLine(
      input,
      tag,
      `How to get released: remove the cause (the ${describeCategory(input.incident.category)}), then say "fixed" and what you did; an operator checks it and lifts the restrictions. To do so,`,
    ),
    consoleBlock(input),
  ],
  [],
];
