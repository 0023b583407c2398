import { CordonError } from '../../proto/runtime/CordonError.js';
import { describeAction, describeCategory } from './describeAction.js';
import { answerBlock, quote, server, type Template } from './mailBlocks.js';
import { bullets, paragraph, utc } from './plainText.js';

const SAID = {
  fixed: 'that the cause is fixed',
  false_positive: 'that the complaint is a false positive',
  appeal: 'that the restriction in force is wrong (an appeal)',
} as const;

/**
 * An operator did not accept the customer's answer. The customer is told
 * what they said and when, the operator's reason in the operator's words,
 * and what happens now: for a fix or a dispute, the complaint stands with a
 * new deadline (and the ways to answer again); for an appeal, the
 * restriction stays and its next step's date. Rejecting an answer without
 * telling its author would leave them waiting for a decision already taken.
 */
export const answerRejected: Template = (input, tag) => {
  const i = input.incident;
  const r = input.rejected;
  if (!r) throw new CordonError('invalid', "an 'answer_rejected' mail needs the rejected answer", { field: 'rejected' });
  const when = r.answeredAt ? ` on ${utc(r.answeredAt)}` : '';
  const what = `incident ${i.id} (${describeCategory(i.category)}) about your ${server(input)}`;
  const head = paragraph(`You told us${when} ${SAID[r.answer]}, for ${what}. Our abuse desk reviewed your answer and did not accept it.`);
  const reason = `${paragraph('The reason the abuse desk gave:')}\n${quote(r.reason)}`;
  if (r.answer === 'appeal') {
    return [
      `Your appeal about server ${input.host.id} was not accepted`,
      [
        head,
        reason,
        input.actions.length > 0 && `The restriction stays in place:\n${bullets(input.actions.map(describeAction))}`,
        paragraph(
          `Once the cause is removed, tell us it is fixed (say what you did) and we will lift the restriction after checking.` +
            (i.resolveDueAt ? ` Without an answer, the next step may follow after ${utc(i.resolveDueAt)}.` : ''),
        ),
        answerBlock(tag, input.pageUrl),
      ],
      [],
    ];
  }
  return [
    `Your answer about server ${input.host.id} was not accepted`,
    [
      head,
      reason,
      paragraph(
        `The complaint stands. Remove the cause and tell us by ${i.resolveDueAt ? utc(i.resolveDueAt) : 'the deadline on the incident page'}, ` +
          `or send a plan with the date by which it is done. Without an answer by then, we may have to restrict the server.`,
      ),
      answerBlock(tag, input.pageUrl),
    ],
    [],
  ];
};
