import type { IncidentDetail } from '../../../proto/gen/cordon/v1/desk.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';

/** The decisions the incident page offers, as DecideIncident's values; the lifecycle decides which apply now. */
export const DESK_DECISIONS = {
  verify: { label: 'Verify', help: 'customer resolved: close; disputed or appealed: accept the customer\'s side (an appeal needs a reason)', reason: 'optional' },
  reject_dispute: { label: 'Reject the dispute', help: 'the complaint stands: a new deadline (an appeal needs a reason)', reason: 'optional' },
  dismiss: { label: 'Dismiss', help: 'the complaint was wrong: close without consequence and lift any restriction', reason: 'required' },
  release: { label: 'Release', help: 'lift the restriction in force', reason: 'optional' },
} as const;
export type DeskDecision = keyof typeof DESK_DECISIONS;

const pre = (text: string): SafeHtml => html`<pre>${text}</pre>`;

/**
 * An incident as the desk shows it: state and deadlines, complaints with
 * their evidence and authentication (text, never markup: every value goes
 * through `html`, which escapes), the customer's messages, and the history.
 */
export function incidentView(d: IncidentDetail): SafeHtml {
  const i = d.incident!;
  return html`<h1>Incident ${i.id}</h1>
<table class="facts">
<tr><th>State</th><td class="state" id="incident-state">${i.state}</td></tr>
${i.hold ? html`<tr><th>Held</th><td>${i.hold.replace(/_/g, ' ')}${i.pendingAction ? ` (${i.pendingAction} pending)` : ''}</td></tr>` : ''}
<tr><th>Host</th><td>${i.hostId} (customer ${i.customerId})</td></tr>
<tr><th>Category</th><td>${i.category}${i.trusted ? ' (trusted reporter)' : ' (reporter not trusted)'}</td></tr>
<tr><th>In force</th><td>${i.actions.length > 0 ? i.actions.join(', ') : 'no restriction'}</td></tr>
<tr><th>Opened</th><td>${when(i.openedAt)} by ${i.openedBy}</td></tr>
<tr><th>Acknowledge by</th><td>${when(i.ackDueAt)}</td></tr>
<tr><th>Resolve by</th><td>${when(i.resolveDueAt)}</td></tr>
<tr><th>Next deadline</th><td>${when(i.nextDueAt)}${i.overdue ? html` <strong>overdue</strong>` : ''}</td></tr>
${i.escalatedAt ? html`<tr><th>Escalated</th><td>${when(i.escalatedAt)}</td></tr>` : ''}
${i.closedAt ? html`<tr><th>Closed</th><td>${when(i.closedAt)}</td></tr>` : ''}
${i.noticeUndeliveredAt ? html`<tr><th>Notice bounced</th><td>${when(i.noticeUndeliveredAt)}</td></tr>` : ''}
</table>
<h2>Complaints (${d.complaints.length})</h2>
${d.complaints.map(
  (c) => html`<section class="complaint" id="complaint-${c.id}">
<h3>${c.id}: ${c.category} from ${c.ip}</h3>
<p>Received ${when(c.receivedAt)} from ${c.reporter} (${c.reporterKind}), ${c.trusted ? 'trusted' : 'not trusted'}; status ${c.status}${c.reason ? `: ${c.reason}` : ''}${c.duplicateOf ? `; duplicate of ${c.duplicateOf}` : ''}</p>
<p>Authentication: <code>${c.authentication}</code></p>
<h4>Evidence</h4>
${pre(c.evidence)}
</section>`,
)}
<h2>The customer (${d.messages.length} message${d.messages.length === 1 ? '' : 's'})</h2>
${d.messages.length === 0
  ? html`<p>Nothing from the customer yet.</p>`
  : d.messages.map(
      (m) => html`<section class="message">
<p>${when(m.at)}: ${m.kind.replace(/_/g, ' ')}${m.answer ? ` (${m.answer.replace(/_/g, ' ')})` : ''} by ${m.channel}, ${m.actor}${m.seenBy ? `; seen by ${m.seenBy}` : '; not seen yet'}</p>
${m.body ? pre(m.body) : ''}
</section>`,
    )}
<h2>History</h2>
<table class="history">
<thead><tr><th>When</th><th>Event</th><th>State</th><th>Who</th><th>Detail</th></tr></thead>
<tbody>
${d.events.map(
  (e) => html`<tr><td>${when(e.at)}</td><td>${e.type}</td><td>${e.fromState}${e.toState && e.toState !== e.fromState ? ` → ${e.toState}` : ''}</td><td>${e.actor}</td><td><code>${e.detail === '{}' ? '' : e.detail}</code></td></tr>`,
)}
</tbody>
</table>`;
}

/** The forms an operator allowed DecideIncident gets; none for anyone else (the server refuses their POST all the same). */
export function decisionForms(incidentId: string, csrf: string): SafeHtml {
  return html`<section class="actions" id="actions">
<h2>Decide</h2>
${Object.entries(DESK_DECISIONS).map(
  ([decision, d]) => html`<form method="post" action="/incidents/${encodeURIComponent(incidentId)}/decide" id="form-${decision}" class="decide">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="decision" value="${decision}">
<label>${d.label}: ${d.help}<br>
<input type="text" name="reason" maxlength="2000" placeholder="reason${d.reason === 'required' ? ' (required)' : ''}"${d.reason === 'required' ? html` required` : ''}></label>
<button type="submit">${d.label}</button>
</form>`,
)}
</section>`;
}
