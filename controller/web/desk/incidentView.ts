import type { IncidentDetail } from '../../../proto/gen/cordon/v1/desk.js';
import { html, type SafeHtml } from '../customer/html.js';
import { complaintSection } from './complaintSection.js';
import { customerSection } from './customerSection.js';
import type { DeskTime } from './deskTime.js';
import { enforcementSection } from './enforcementSection.js';
import { historySection, incidentFacts } from './incidentFacts.js';
import { mailSection } from './mailSection.js';

/** What the operator may read beyond the page itself: the raw reports (GetComplaintRaw) and the customer's files (GetCustomerFile). */
export interface IncidentReads {
  raw: boolean;
  files: boolean;
}

/**
 * An incident as the desk shows it, from GetIncident: state and deadlines on
 * the incident clock, complaints with evidence and authentication in words,
 * the mails sent and their delivery, the customer's messages, files and
 * links, enforcement on the host as its agent reports it with the BMC
 * checks, and the whole history. Every value goes through `html`, which
 * escapes: what reporters and customers wrote is text, never markup.
 */
export function incidentView(d: IncidentDetail, t: DeskTime, may: IncidentReads): SafeHtml {
  const i = d.incident!;
  return html`${incidentFacts(i, t)}
${complaintSection(i.id, d.complaints, t, may.raw)}
${mailSection(d.mails, t)}
${customerSection(i.id, d, t, may.files)}
${enforcementSection(i.id, i.hostId, d.host, d.bmcChecks, t)}
${historySection(d.events, t)}`;
}
