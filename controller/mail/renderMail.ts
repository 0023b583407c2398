import type { MailTemplate, RejectedAnswer } from '../incidents/lifecycle.js';
import type { Action, Incident } from '../incidents/model.js';
import { answerRejected } from './answerRejectedTemplate.js';
import { closed, dismissed, released, releasedAgentGone, termination } from './closingTemplates.js';
import { signature, type Template } from './mailBlocks.js';
import { complaintDigest, notice } from './noticeTemplates.js';
import type { OutboxMailPayload } from './OutboxSource.js';
import { blocks, oneLine } from './plainText.js';
import { renderContactChanged } from './renderContactChanged.js';
import { REPORTER_OUTCOME, renderReporterOutcome } from './renderReporterOutcome.js';
import { enforced, escalated } from './restrictionTemplates.js';
import type { StatementConfig, StatementInput } from './statementOfReasons.js';

export { looksLikeMessage } from './mailBlocks.js';

/**
 * One complaint as a customer mail quotes it. `raw` is what the customer may
 * see: the report, or (`partial`) only the part of a many-network report about
 * this server — never other networks' addresses.
 */
export interface MailComplaint {
  id: string;
  raw: string;
  partial?: boolean;
  reporter: string;
  category: string;
  receivedAt: Date;
  /** The reported address. Absent in rows queued before it was recorded. */
  ip?: string | undefined;
  /** When the abuse happened, as the reporter says (UTC); with `eventTimeSource` 'receipt', only the report's own date. */
  eventTime?: Date | undefined;
  /** 'receipt' when the report states no event time and eventTime is its own date; absent: the reporter's statement. */
  eventTimeSource?: 'receipt' | undefined;
  /** Entered by an operator: the evidence they gave, which the body states (there is no report of its own that says it). */
  operatorEvidence?: string | undefined;
}

/** Everything one customer mail is made of. Plain data, JSON-friendly apart from the dates. */
export interface MailInput {
  template: MailTemplate;
  incident: Incident;
  host: { id: string; publicPrefixes: string[]; bmc?: { address: string; protocol: string } | undefined };
  customer: { id: string; name: string; email: string };
  /** The original complaint, for 'notice' (required there unless `openedBy`): it travels unmodified. */
  complaint?: MailComplaint | undefined;
  /** More complaints: for a notice, the others already on the incident; for a complaint_digest, those that joined since the last mail. */
  complaints?: MailComplaint[] | undefined;
  /** For a 'notice' of an incident an operator opened (no complaint): who, and the reason they gave. */
  openedBy?: { operator: string; reason: string } | undefined;
  /** What is (or will be) enforced, for 'escalated' and 'enforced'; what was lifted, for 'released'. */
  actions: Action[];
  /** Recidivism: the notice states the termination review and its migration period. */
  terminationReview: boolean;
  migrationDays: number;
  /** The abuse desk's identity as the text names it, and the clause and redress its statements of reasons name. */
  desk: { from: string; replyTo: string; name: string; statement?: StatementConfig | undefined };
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
  /** For a restriction mail: the facts and the decision its statement of reasons states. */
  statement?: StatementInput | undefined;
  /** For 'answer_rejected': what the customer had said, when, and the operator's reason for not accepting it. */
  rejected?: RejectedAnswer | undefined;
  /** The incident's page for the customer, the first way to answer; made at send time from the row's link id, never stored. */
  pageUrl?: string | undefined;
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

const TEMPLATES: Record<MailTemplate, Template> = {
  notice,
  complaint_digest: complaintDigest,
  escalated,
  enforced,
  released,
  released_agent_gone: releasedAgentGone,
  closed,
  termination,
  dismissed,
  answer_rejected: answerRejected,
};

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

/**
 * Renders any outbox mail row with the desk's identity: an incident's mail
 * (its page link made from the row's link id by `linkUrl`, when the page is
 * on), a changed notice address, or a reporter's outcome.
 */
export function renderOutboxMail(payload: OutboxMailPayload, desk: MailInput['desk'], linkUrl?: (linkId: string) => string): RenderedMail {
  if (payload.template === 'contact_changed') return renderContactChanged({ ...payload, desk });
  if (payload.template === REPORTER_OUTCOME) return renderReporterOutcome({ ...payload, desk });
  const { linkId, ...rest } = payload;
  const pageUrl = linkId && linkUrl ? linkUrl(linkId) : undefined;
  return renderMail({ ...rest, desk, ...(pageUrl ? { pageUrl } : {}) });
}
