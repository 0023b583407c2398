import { CordonError } from '../../proto/runtime/CordonError.js';
import type { MailTemplate } from '../incidents/lifecycle.js';
import type { Action, Incident } from '../incidents/model.js';
import { describeAction, describeCategory } from './describeAction.js';
import type { OutboxMailPayload } from './OutboxSource.js';
import { blocks, bullets, oneLine, paragraph, utc } from './plainText.js';
import { renderContactChanged } from './renderContactChanged.js';

/** Everything one customer mail is made of. Plain data, JSON-friendly apart from the dates. */
export interface MailInput {
  template: MailTemplate;
  incident: Incident;
  host: { id: string; publicPrefixes: string[]; bmc?: { address: string; protocol: string } | undefined };
  customer: { id: string; name: string; email: string };
  /** The original complaint, for 'notice' (required there): it travels unmodified. */
  /** `partial`: `raw` is the part of a many-network report about this server only. */
  complaint?: { id: string; raw: string; partial?: boolean; reporter: string; category: string; receivedAt: Date } | undefined;
  /** For a 'notice' of an incident an operator opened (no complaint): who, and the reason they gave. */
  openedBy?: { operator: string; reason: string } | undefined;
  /** What is (or will be) enforced, for 'escalated' and 'enforced'; what was lifted, for 'released'. */
  actions: Action[];
  /** Recidivism: the notice states the termination review and its migration period. */
  terminationReview: boolean;
  migrationDays: number;
  /** The abuse desk's identity as the text names it. */
  desk: { from: string; replyTo: string; name: string };
  /** When the BMC last answered a check; the line is left out when absent. */
  bmcCheckedAt?: Date | undefined;
  /**
   * The customer's other servers, as they stood when the mail was written:
   * how many, and which are restricted under other incidents. The mail says
   * truthfully whether they are affected; absent, it says nothing of them.
   */
  scope?: { otherHosts: number; otherRestricted: string[] } | undefined;
  /** For 'termination': the confirmed review, its incidents and when it was decided. */
  review?: { id: string; incidentIds: string[]; decidedAt: Date } | undefined;
  /** The second operator's grant that allowed the action, when one was needed. */
  approval?: { id: string; requestedBy: string; approvedBy: string } | undefined;
}

export interface MailAttachment {
  filename: string;
  /** The exact content; the sender must deliver these bytes (UTF-8) unchanged. */
  content: string;
  contentType: string;
}

export interface RenderedMail {
  subject: string;
  /** Plain text, LF line ends. Never HTML. */
  text: string;
  attachments: MailAttachment[];
  headers: Record<string, string>;
}

/**
 * Renders one customer mail. Pure: the same input gives the same bytes, so a
 * resend after a crash is the same message. Dates are UTC ISO 8601. Throws a
 * CordonError('invalid') when the input lacks what the template must state
 * (a notice without its complaint or its deadlines): a mail that cannot say
 * what the customer must do by when is not sent.
 */
export function renderMail(input: MailInput): RenderedMail {
  const { incident, host } = input;
  const tag = `[Cordon #${incident.id}]`;
  const [title, body, attachments] = TEMPLATES[input.template](input, tag);
  return {
    subject: oneLine(`${tag} ${title}`),
    text: blocks(`Dear ${input.customer.name},`, ...body, signature(input, tag)),
    attachments,
    headers: {
      'X-Cordon-Incident': oneLine(incident.id),
      'X-Cordon-Host': oneLine(host.id),
      'X-Cordon-Template': input.template,
      // RFC 3834: vacation responders and ticket auto-acknowledgements stay quiet; people can still reply.
      'Auto-Submitted': 'auto-generated',
    },
  };
}

/** Renders any outbox mail row with the desk's identity: an incident's mail, or a changed notice address. */
export function renderOutboxMail(payload: OutboxMailPayload, desk: MailInput['desk']): RenderedMail {
  return payload.template === 'contact_changed' ? renderContactChanged({ ...payload, desk }) : renderMail({ ...payload, desk });
}

/**
 * Whether a text starts like an RFC 5322 message: header fields (name, colon;
 * folded lines allowed) up to an empty line. A bare CSV or JSON file does not.
 */
export function looksLikeMessage(text: string): boolean {
  const end = text.search(/\r?\n\r?\n/);
  if (end <= 0) return false;
  const lines = text.slice(0, end).split(/\r?\n/);
  return lines.every((l, k) => /^[\x21-\x39\x3b-\x7e]+:/.test(l) || (k > 0 && /^[ \t]/.test(l)));
}

type Template = (input: MailInput, tag: string) => [title: string, body: (string | false)[], attachments: MailAttachment[]];

const TEMPLATES: Record<MailTemplate, Template> = {
  notice(input, tag) {
    const { incident: i, complaint: c } = input;
    if (!c && !input.openedBy) throw new CordonError('invalid', 'a notice carries the original complaint, or the reason an operator opened it', { field: 'complaint' });
    if (!i.ackDueAt || !i.resolveDueAt) {
      throw new CordonError('invalid', 'a notice states both deadlines; set them before rendering', { field: 'incident.ackDueAt' });
    }
    let intro: string;
    let attachments: MailAttachment[] = [];
    if (c) {
      // A mail as received travels as message/rfc822 (RFC 2046 5.2.1); a file
      // (a CSV, JSON) or an excerpt is no RFC 822 message and goes as text.
      const asMessage = !c.partial && looksLikeMessage(c.raw);
      const filename = `complaint-${c.id}.${asMessage ? 'eml' : 'txt'}`;
      const what = c.partial
        ? `The part of the report about your server is attached as ${filename}; the report also concerns other networks, which are not shown.`
        : `The original complaint is attached unmodified as ${filename}.`;
      intro = `We received a complaint about ${describeCategory(i.category)} from your ${server(input)}. Reporter: ${c.reporter}; received ${utc(c.receivedAt)}. ${what}`;
      attachments = [{ filename, content: c.raw, contentType: asMessage ? 'message/rfc822' : 'text/plain; charset=utf-8' }];
    } else {
      intro = `Our abuse desk opened this incident about your ${server(input)} itself, without a complaint from outside. The reason given: ${input.openedBy!.reason}`;
    }
    return [
      c ? `Abuse complaint about server ${input.host.id}: ${describeCategory(i.category)}` : `Abuse incident about server ${input.host.id}`,
      [
        paragraph(intro),
        `Deadlines (UTC):\n${bullets([
          `acknowledge by ${utc(i.ackDueAt)}`,
          `fix it, show it is a false positive, or send a plan by ${utc(i.resolveDueAt)}`,
        ])}`,
        answerBlock(tag),
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
  },

  escalated(input, tag) {
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
        scopeBlock(input),
        consoleBlock(input),
        paragraph(`You can still answer: reply to this mail keeping ${tag} in the subject with "fixed", "false positive" (with evidence) or a plan with a date.`),
      ],
      [],
    ];
  },

  enforced(input, tag) {
    return [
      `Restrictions applied to server ${input.host.id}`,
      [
        `${paragraph(`The following is now in place on your ${server(input)}:`)}\n${bullets(input.actions.map(describeAction))}`,
        !!input.approval &&
          paragraph(`This action was requested by ${input.approval!.requestedBy} and approved by a second operator, ${input.approval!.approvedBy} (approval ${input.approval!.id}).`),
        scopeBlock(input),
        paragraph(
          `How to get released: remove the cause (the ${describeCategory(input.incident.category)}), then reply to this mail ` +
            `with "fixed" and what you did, keeping ${tag} in the subject. An operator checks it and lifts the restrictions.`,
        ),
        consoleBlock(input),
      ],
      [],
    ];
  },

  released(input) {
    return [
      `Restrictions lifted on server ${input.host.id}`,
      [
        paragraph(`We lifted the restrictions of incident ${input.incident.id} on your ${server(input)}.`),
        input.actions.length > 0 && `Lifted:\n${bullets(input.actions.map(describeAction))}`,
      ],
      [],
    ];
  },

  closed(input) {
    const i = input.incident;
    return [
      `Incident closed for server ${input.host.id}`,
      [paragraph(`Incident ${i.id} (${describeCategory(i.category)}) about your ${server(input)} is closed${i.closedAt ? ` as of ${utc(i.closedAt)}` : ''}. Thank you.`)],
      [],
    ];
  },

  termination(input, tag) {
    const i = input.incident;
    const until = new Date((input.review?.decidedAt ?? i.openedAt).getTime() + input.migrationDays * 86_400_000);
    return [
      `Notice of termination: ${input.migrationDays}-day migration period`,
      [
        paragraph(
          `After repeated abuse incidents on your servers that were established (acknowledged or fixed by you, or left unanswered ` +
            `until we had to act), our abuse desk reviewed your account and decided to terminate the contract. ` +
            `The incidents: ${(input.review?.incidentIds ?? [i.id]).join(', ')}.`,
        ),
        paragraph(
          `You have a ${input.migrationDays}-day migration period, until ${utc(until)}, to move your services and data. ` +
            `Your servers stay reachable during this period unless a new incident requires action on one of them.`,
        ),
        paragraph(`To contest this decision, reply to this mail keeping ${tag} in the subject, with your reasons.`),
      ],
      [],
    ];
  },

  dismissed(input) {
    const i = input.incident;
    return [
      `Complaint dismissed for server ${input.host.id}`,
      [
        paragraph(
          `We dismissed incident ${i.id} (${describeCategory(i.category)}) about your ${server(input)}. ` +
            `Nothing more is needed from you, and nothing from this incident remains in place on the server.`,
        ),
      ],
      [],
    ];
  },
};

/** What the mail says of the customer's other servers: only what is true when it is written. */
function scopeBlock(input: MailInput): string | false {
  const scope = input.scope;
  if (!scope) return false;
  if (scope.otherHosts === 0) return paragraph(`This incident concerns this server only; you have no other servers with us.`);
  if (scope.otherRestricted.length === 0) {
    return paragraph(`This incident concerns this server only: your ${scope.otherHosts} other server${scope.otherHosts === 1 ? ' is' : 's are'} not affected.`);
  }
  const n = scope.otherRestricted.length;
  return paragraph(
    `This incident concerns this server only. Of your ${scope.otherHosts} other server${scope.otherHosts === 1 ? '' : 's'}, ` +
      `${n === 1 ? 'one is' : `${n} are`} restricted under other incidents, each with its own mail: ${scope.otherRestricted.join(', ')}. ` +
      `The others are not affected.`,
  );
}

function server(input: MailInput): string {
  const prefixes = input.host.publicPrefixes;
  return prefixes.length > 0 ? `server ${input.host.id} (public prefixes ${prefixes.join(', ')})` : `server ${input.host.id}`;
}

function answerBlock(tag: string): string {
  return `${paragraph(`How to answer: reply to this mail and keep ${tag} in the subject. Tell us one of:`)}\n${bullets([
    'fixed: the cause is removed (say what you did)',
    'false positive: the complaint is wrong, with evidence (logs, configuration)',
    'plan: what you will do, and the date by which it is done',
  ])}`;
}

/** How to reach the console: the one path that always stays open, whatever Cordon does to the server. */
function consoleBlock(input: MailInput): string {
  const bmc = input.host.bmc;
  if (!bmc) {
    return paragraph(`Console: no IPMI console (BMC) is on record for server ${input.host.id}; reply to this mail if you need console access.`);
  }
  const web = bmc.address.includes(':') ? `[${bmc.address}]` : bmc.address;
  const lines = [
    paragraph(
      `Console: the IPMI console (BMC) of server ${input.host.id} is at ${bmc.address} (${bmc.protocol}). ` +
        `Log in to the BMC web interface (https://${web}/) or use ipmitool sol activate:`,
    ),
    `    ipmitool -I lanplus -H ${bmc.address} -U <your BMC user> sol activate`,
  ];
  if (input.bmcCheckedAt) lines.push(`It answered our check at ${utc(input.bmcCheckedAt)}.`);
  return lines.join('\n');
}

/** Which deadline the escalation followed, if any (an immediate category escalates at intake without one). */
function missedDeadline(i: Incident): { what: string; at: Date } | undefined {
  const at = i.escalatedAt?.getTime();
  if (at === undefined) return undefined;
  if (i.resolveDueAt && at >= i.resolveDueAt.getTime()) return { what: 'fix the problem, show a false positive or send a plan', at: i.resolveDueAt };
  if (i.ackDueAt && !i.acknowledgedAt && at >= i.ackDueAt.getTime()) return { what: 'acknowledge the complaint', at: i.ackDueAt };
  return undefined;
}

function signature(input: MailInput, tag: string): string {
  return `-- \n${input.desk.name}\n${input.desk.replyTo}\n${paragraph(`Incident ${input.incident.id}, server ${input.host.id}. Replies keep ${tag} in the subject.`)}`;
}
