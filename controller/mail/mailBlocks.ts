import type { Incident } from '../incidents/model.js';
import { bullets, paragraph, utc } from './plainText.js';
import type { MailAttachment, MailComplaint, MailInput } from './renderMail.js';

/** One template: the subject after the tag, the body blocks (false: left out) and the attachments. */
export type Template = (input: MailInput, tag: string) => [title: string, body: (string | false)[], attachments: MailAttachment[]];

/** The server as the customer recognises it: id and public prefixes. */
export function server(input: MailInput): string {
  const prefixes = input.host.publicPrefixes;
  return prefixes.length > 0 ? `server ${input.host.id} (public prefixes ${prefixes.join(', ')})` : `server ${input.host.id}`;
}

/**
 * A URL on a line of its own, indented, never re-flowed: a link split over
 * two lines is a link that does not open.
 */
export function urlLine(url: string): string {
  return `  ${url.replace(/[\u0000-\u0020\u007f]+/g, '')}`;
}

/** The page first (when the incident has one), then a reply by mail, then the three answers. */
export function answerBlock(tag: string, pageUrl: string | undefined): string {
  const answers = bullets([
    'fixed: the cause is removed (say what you did)',
    'false positive: the complaint is wrong, with evidence (logs, configuration)',
    'plan: what you will do, and the date by which it is done',
  ]);
  if (!pageUrl) return `${paragraph(`How to answer: reply to this mail and keep ${tag} in the subject. Tell us one of:`)}\n${answers}`;
  return [
    'Answer on this page:',
    urlLine(pageUrl),
    paragraph(
      `There you can also upload evidence and see where this incident stands. Or reply to this mail and keep ${tag} in the subject. ` +
        `Either way, tell us one of:`,
    ),
    answers,
  ].join('\n');
}

/** What the mail says of the customer's other servers: only what is true when it is written. */
export function scopeBlock(input: MailInput): string | false {
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

/** How to reach the console: the one path that always stays open, whatever Cordon does to the server. */
export function consoleBlock(input: MailInput): string {
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
export function missedDeadline(i: Incident): { what: string; at: Date } | undefined {
  const at = i.escalatedAt?.getTime();
  if (at === undefined) return undefined;
  if (i.resolveDueAt && at >= i.resolveDueAt.getTime()) return { what: 'fix the problem, show a false positive or send a plan', at: i.resolveDueAt };
  if (i.ackDueAt && !i.acknowledgedAt && at >= i.ackDueAt.getTime()) return { what: 'acknowledge the complaint', at: i.ackDueAt };
  return undefined;
}

/**
 * One complaint in a line: the reported address, when the reporter says it
 * happened, when we received it, and from whom. The event time is the
 * reporter's; "not given" rather than our receipt time passed off as it.
 */
export function complaintLine(c: MailComplaint): string {
  return `${c.ip ?? 'address not recorded'}: ${eventWords(c)}, received ${utc(c.receivedAt)}, reported by ${c.reporter}`;
}

/** The event time as the report gives it; a report that states none says so, with its own date, never passed off as the event's. */
export function eventWords(c: { eventTime?: Date | undefined; eventTimeSource?: string | undefined }): string {
  if (!c.eventTime) return 'event time not given';
  if (c.eventTimeSource === 'receipt') return `event time not stated in the report (the report is dated ${utc(c.eventTime)})`;
  return `event ${utc(c.eventTime)}`;
}

/** A complaint's text as an attachment: a mail as received goes as message/rfc822 (RFC 2046 5.2.1); a file or an excerpt as text. */
export function complaintAttachment(c: MailComplaint): MailAttachment {
  const asMessage = !c.partial && looksLikeMessage(c.raw);
  return { filename: `complaint-${c.id}.${asMessage ? 'eml' : 'txt'}`, content: c.raw, contentType: asMessage ? 'message/rfc822' : 'text/plain; charset=utf-8' };
}

/** The evidence an operator gave for a complaint they entered: there is no report of its own to attach that says it. */
export function operatorEvidence(list: readonly MailComplaint[]): string | false {
  const given = list.filter((c) => c.operatorEvidence);
  if (given.length === 0) return false;
  return given.map((c) => `${paragraph(`Evidence recorded by our abuse desk for ${c.ip ?? c.id}:`)}\n${quote(c.operatorEvidence!)}`).join('\n\n');
}

/** Someone else's text (an operator's evidence), indented so it reads as quoted, each line re-flowed to fit, cut after `max` characters. */
export function quote(text: string, max = 2000): string {
  const cut = text.length > max ? `${text.slice(0, max)} [...]` : text;
  return cut
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => paragraph(l, 68).replace(/^/gm, '    ').trimEnd())
    .join('\n');
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

export function signature(input: MailInput, tag: string): string {
  return `-- \n${input.desk.name}\n${input.desk.replyTo}\n${paragraph(`Incident ${input.incident.id}, server ${input.host.id}. Replies keep ${tag} in the subject.`)}`;
}
