import type { Approval } from '../../../proto/gen/cordon/v1/desk.js';
import type { Action } from '../../incidents/model.js';
import { describeAction } from '../../mail/describeAction.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';

/** How many decided or expired approvals the page lists under the pending ones, newest first. */
export const RECENT_APPROVALS = 50;

/** The forms an operator's role allows on a pending approval; absent ones are not drawn (the server refuses them all the same). */
export interface ApprovalForms {
  csrf: string;
  grant: boolean;
  reject: boolean;
}

/** The stored action in words; a row this version cannot read says so rather than failing the page. */
export function actionInWords(json: string): string {
  try {
    return describeAction(JSON.parse(json) as Action) ?? `unknown action ${json}`;
  } catch {
    return `unknown action ${json}`;
  }
}

/**
 * Approvals as the desk shows them: pending first (oldest first, as
 * ListApprovals orders them), then the most recent decided or expired, a
 * rejection with the rejecting operator's reason (as text, never markup).
 * Who may grant is not decided here: four eyes is the store's rule, and its
 * refusal is shown in its words when the requester tries.
 */
export function approvalsView(all: Approval[]): SafeHtml {
  const pending = pendingOf(all);
  const recent = all
    .filter((a) => a.state !== 'pending')
    .sort((a, b) => (b.decidedAt ?? b.requestedAt ?? new Date(0)).getTime() - (a.decidedAt ?? a.requestedAt ?? new Date(0)).getTime())
    .slice(0, RECENT_APPROVALS);
  return html`<h1>Approvals</h1>
<h2>Waiting for a second operator (${pending.length})</h2>
${pending.length === 0 ? html`<p class="empty">No approval is waiting.</p>` : table(pending)}
<h2>Recently decided or expired</h2>
${recent.length === 0 ? html`<p class="empty">None yet.</p>` : table(recent)}`;
}

const pendingOf = (all: Approval[]) => all.filter((a) => a.state === 'pending');

function table(rows: Approval[]): SafeHtml {
  return html`<table class="approvals">
<thead><tr><th>Approval</th><th>Requested by</th><th>Hosts</th><th>Action</th><th>Reason</th><th>Why a second operator</th><th>Expires</th><th>Status</th><th>Decided by, and why</th></tr></thead>
<tbody>
${rows.map(
  (a) => html`<tr data-approval="${a.id}">
<td>${a.id}${a.incidentId ? html`<br>incident <a href="/incidents/${encodeURIComponent(a.incidentId)}">${a.incidentId}</a>` : ''}</td>
<td class="requester">${a.requestedBy}<br>${when(a.requestedAt)}</td>
<td class="hosts">${a.hostIds.join(', ')}</td>
<td class="action">${actionInWords(a.action)}</td>
<td>${a.reason}</td>
<td>${a.why}</td>
<td>${when(a.expiresAt)}</td>
<td class="status">${a.state}</td>
<td class="approver">${a.approvedBy ? html`${a.approvedBy}<br>${when(a.decidedAt)}` : '—'}${a.decisionReason ? html`<br><span class="decision-reason">${a.state === 'rejected' ? 'rejected: ' : ''}${a.decisionReason}</span>` : ''}</td>
</tr>`,
)}
</tbody>
</table>`;
}

/**
 * The grant and reject forms for each pending approval, drawn outside the
 * live part of the page (deskLayout's `actions`), so a live update never
 * wipes a reason being typed. An approval that arrives live gets its forms
 * on the next load.
 */
export function approvalForms(all: Approval[], f: ApprovalForms): SafeHtml | undefined {
  const pending = pendingOf(all);
  if (pending.length === 0 || !(f.grant || f.reject)) return undefined;
  const action = (id: string, verb: string) => `/approvals/${encodeURIComponent(id)}/${verb}`;
  return html`<section class="actions" id="actions">
<h2>Decide</h2>
${pending.map(
  (a) => html`<div class="decide" id="decide-${a.id}">
<h3>${a.id}: ${actionInWords(a.action)} on ${a.hostIds.join(', ')}, asked by ${a.requestedBy}</h3>
${f.grant ? html`<form method="post" action="${action(a.id, 'grant')}" class="grant"><input type="hidden" name="csrf" value="${f.csrf}"><button type="submit">Grant</button></form>` : ''}
${f.reject ? html`<form method="post" action="${action(a.id, 'reject')}" class="reject"><input type="hidden" name="csrf" value="${f.csrf}"><label>Reject: <input type="text" name="reason" maxlength="2000" required placeholder="reason (required)"></label> <button type="submit">Reject</button></form>` : ''}
</div>`,
)}
</section>`;
}
