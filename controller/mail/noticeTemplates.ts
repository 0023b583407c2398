import { CordonError } from '../../proto/runtime/CordonError.js';
import { WAITING_STATES } from '../incidents/model.js';
import { describeCategory } from './describeAction.js';
import {
  answerBlock,
  complaintAttachment,
  complaintLine,
  consoleBlock,
  operatorEvidence,
  server,
  type Template,
} from './mailBlocks.js';
import { bullets, paragraph, utc } from './plainText.js';
import type { MailComplaint, MailInput } from './renderMail.js';

/** Every complaint a notice or digest speaks of: the first (`complaint`), then the others. */
function listed(input: MailInput): MailComplaint[] {
  return [...(input.complaint ? [input.complaint] : []), ...(input.complaints ?? [])];
}

/**
 * The customer's notice: what was reported (addresses, the reporter's event
 * times, our receipt times), the deadlines, how to answer (the page first),
 * what happens without an answer, and the console.
 */
export const notice: Template = (input, tag) => {
  const { incident: i } = input;
  const all = listed(input);
  const c = all[0];
  if (!c && !input.openedBy) throw new CordonError('invalid', 'a notice carries the original complaint, or the reason an operator opened it', { field: 'complaint' });
  if (!i.ackDueAt || !i.resolveDueAt) {
    throw new CordonError('invalid', 'a notice states both deadlines; set them before rendering', { field: 'incident.ackDueAt' });
  }
  const attachments = all.map(complaintAttachment);
  let intro: (string | false)[];
  if (c && all.length === 1) {
    const [a] = attachments;
    const what = c.partial
      ? `The part of the report about your server is attached as ${a!.filename}; the report also concerns other networks, which are not shown.`
      : `The original complaint is attached unmodified as ${a!.filename}.`;
    // A receipt time is the report's own date: saying the reporter gives it as the event's would be false.
    const event = !c.eventTime
      ? ''
      : c.eventTimeSource === 'receipt'
        ? ` The report does not state when the event happened; the report itself is dated ${utc(c.eventTime)}.`
        : ` The reporter gives the time of the event as ${utc(c.eventTime)}.`;
    const address = c.ip ? ` The reported address is ${c.ip}.` : '';
    intro = [
      paragraph(
        `We received a complaint about ${describeCategory(i.category)} from your ${server(input)}.${address}${event} ` +
          `Reporter: ${c.reporter}; received ${utc(c.receivedAt)}. ${what}`,
      ),
    ];
  } else if (c) {
    intro = [
      paragraph(`We received ${all.length} complaints about ${describeCategory(i.category)} from your ${server(input)}. Each names the reported address and the time of the event where the report states one (UTC):`),
      bullets(all.map(complaintLine)),
      paragraph(
        `Each complaint is attached as complaint-ID.eml (a mail as received, unmodified) or complaint-ID.txt` +
          (all.some((x) => x.partial) ? `; where a report also concerns other networks, only the part about your server is attached.` : '.'),
      ),
    ];
  } else {
    intro = [paragraph(`Our abuse desk opened this incident about your ${server(input)} itself, without a complaint from outside. The reason given: ${input.openedBy!.reason}`)];
  }
  const restarted = i.noticeUndeliveredAt
    ? paragraph(`Our earlier notice of this incident could not be delivered, so its deadlines did not run. They are counted again from this notice:`)
    : 'Deadlines (UTC):';
  return [
    c ? `Abuse complaint about server ${input.host.id}: ${describeCategory(i.category)}` : `Abuse incident about server ${input.host.id}`,
    [
      ...intro,
      operatorEvidence(all),
      `${restarted}\n${bullets([`acknowledge by ${utc(i.ackDueAt)}`, `fix it, show it is a false positive, or send a plan by ${utc(i.resolveDueAt)}`])}`,
      answerBlock(tag, input.pageUrl),
      paragraph(
        input.openedBy
          ? `An operator of the abuse desk acts on this server now: a separate mail says what we apply to this server, ` +
              `and only this server; its management network and IPMI console stay reachable so that you can repair it.`
          : i.escalatedAt
          ? `Complaints about ${describeCategory(i.category)} are acted on at once: a separate mail says what we apply to this server, ` +
              `and only this server; its management network and IPMI console stay reachable so that you can repair it.`
          : `Without an answer by these deadlines we will restrict the network access of this server, and only this server: ` +
              `its management network and IPMI console stay reachable so that you can repair it.`,
      ),
      consoleBlock(input),
      input.terminationReview &&
        paragraph(
          `Your account is under termination review because of repeated abuse incidents. If the contract is terminated, ` +
            `you have a ${input.migrationDays}-day migration period to move your services and data.`,
        ),
    ],
    attachments,
  ];
};

/**
 * Complaints that joined an open incident since the customer was last told:
 * each with its address, event time, receipt time and reporter, and only the
 * customer's own part of the report attached. Queued at most once an hour
 * per incident, so a flood of reports is one mail, not a flood of mail.
 */
export const complaintDigest: Template = (input, tag) => {
  const i = input.incident;
  const all = listed(input);
  if (all.length === 0) throw new CordonError('invalid', 'a complaint digest lists at least one complaint', { field: 'complaints' });
  const n = all.length;
  const waiting = WAITING_STATES.includes(i.state) && i.ackDueAt && i.resolveDueAt && !i.noticeUndeliveredAt;
  return [
    `${n === 1 ? 'A further complaint' : `${n} further complaints`} about server ${input.host.id}: ${describeCategory(i.category)}`,
    [
      paragraph(
        `Since our last mail, ${n === 1 ? 'one more complaint' : `${n} more complaints`} about ${describeCategory(i.category)} from your ${server(input)} ` +
          `joined incident ${i.id}. Each names the reported address and the time of the event where the report states one (UTC):`,
      ),
      bullets(all.map(complaintLine)),
      paragraph(
        `Each is attached as complaint-ID.eml or complaint-ID.txt` +
          (all.some((x) => x.partial) ? `; where a report also concerns other networks, only the part about your server is attached.` : '.'),
      ),
      operatorEvidence(all),
      !!waiting &&
        `${paragraph('They belong to the same incident: its deadlines stay as they were (UTC):')}\n${bullets([
          ...(i.acknowledgedAt ? [] : [`acknowledge by ${utc(i.ackDueAt!)}`]),
          `fix it, show it is a false positive, or send a plan by ${utc(i.resolveDueAt!)}`,
        ])}`,
      answerBlock(tag, input.pageUrl),
      consoleBlock(input),
    ],
    all.map(complaintAttachment),
  ];
};
