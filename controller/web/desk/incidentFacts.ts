import type { Incident, IncidentEventRecord } from '../../../proto/gen/cordon/v1/desk.js';
import { html, type SafeHtml } from '../customer/html.js';
import { clockNotice, whenAgo, whenDue, type DeskTime } from './deskTime.js';

/** Why an escalated incident waits, in words (the lifecycle's holds). */
export function holdWords(i: Incident): string {
  const pending = i.pendingAction ? ` (${i.pendingAction})` : '';
  switch (i.hold) {
    case 'bmc_unreachable':
      return `held pending BMC: the cut${pending} waits until the host's BMC answers a check, or an operator overrides the check with a reason`;
    case 'approval':
      return `waits for a second operator's approval${pending}`;
    case 'operator_decision':
      return `waits for an operator's decision${pending}`;
    case 'untrusted_reporter':
      return `waits for an operator: no complaint is from an authenticated, trusted reporter, so nothing is enforced automatically${pending}`;
    case 'rate_limit':
      return `waits: the hourly cap on automatic enforcements was reached${pending}`;
    default:
      return `${i.hold.replace(/_/g, ' ')}${pending}`;
  }
}

/** State and deadlines, each time with its age or how far off it is on the incident clock. */
export function incidentFacts(i: Incident, t: DeskTime): SafeHtml {
  return html`<h1>Incident ${i.id}</h1>
${clockNotice(t)}
<table class="facts">
<tr><th>State</th><td class="state" id="incident-state">${i.state}</td></tr>
${i.hold ? html`<tr><th>Held</th><td id="incident-hold">${holdWords(i)}</td></tr>` : ''}
<tr><th>Host</th><td><a href="/hosts/${encodeURIComponent(i.hostId)}">${i.hostId}</a> (customer ${i.customerId})</td></tr>
<tr><th>Category</th><td>${i.category}${i.trusted ? ' (trusted reporter)' : ' (reporter not trusted)'}</td></tr>
<tr><th>In force</th><td>${i.actions.length > 0 ? i.actions.join(', ') : 'no restriction'}</td></tr>
<tr><th>Opened</th><td>${whenAgo(i.openedAt, t)} by ${i.openedBy}</td></tr>
<tr><th>Acknowledge by</th><td id="ack-due">${whenDue(i.ackDueAt, t)}</td></tr>
<tr><th>Resolve by</th><td id="resolve-due">${whenDue(i.resolveDueAt, t)}</td></tr>
<tr><th>Next deadline</th><td id="next-due">${whenDue(i.nextDueAt, t)}${i.overdue ? html` <strong>overdue</strong>` : ''}</td></tr>
${i.escalatedAt ? html`<tr><th>Escalated</th><td>${whenAgo(i.escalatedAt, t)}</td></tr>` : ''}
${i.approvalId ? html`<tr><th>Approval</th><td>${i.approvalId}</td></tr>` : ''}
${i.closedAt ? html`<tr><th>Closed</th><td>${whenAgo(i.closedAt, t)}</td></tr>` : ''}
${i.noticeUndeliveredAt ? html`<tr><th>Notice bounced</th><td>${whenAgo(i.noticeUndeliveredAt, t)}: the deadlines wait until a notice is delivered or the customer answers</td></tr>` : ''}
</table>`;
}

/** The whole history, oldest first, as the store keeps it (append-only). */
export function historySection(events: readonly IncidentEventRecord[], t: DeskTime): SafeHtml {
  return html`<h2>History</h2>
<table class="history">
<thead><tr><th>When</th><th>Event</th><th>State</th><th>Who</th><th>Detail</th></tr></thead>
<tbody>
${events.map(
  (e) => html`<tr><td>${whenAgo(e.at, t)}</td><td>${e.type}</td><td>${e.fromState}${e.toState && e.toState !== e.fromState ? ` → ${e.toState}` : ''}</td><td>${e.actor}</td><td><code>${e.detail === '{}' ? '' : e.detail}</code></td></tr>`,
)}
</tbody>
</table>`;
}
