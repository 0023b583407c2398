import type { VerifyAuditResponse } from '../../../proto/gen/cordon/v1/desk.js';
import type { AuditEntry, AuditSearch } from '../../store/AuditLog.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';
import { MAX_AUDIT_LIMIT } from './DeskReads.js';

/** A time for a datetime-local field: UTC, to the second (the desk shows every time in UTC). */
const local = (d: Date | undefined) => (d ? d.toISOString().slice(0, 19) : '');

/**
 * The audit log: the chain's verification first (VerifyAudit's answer,
 * over the whole chain, whatever the filter), then the filter form (GET:
 * it changes nothing, so no CSRF), then the entries newest first. Details
 * are JSON shown as text.
 */
export function auditView(v: VerifyAuditResponse, filter: AuditSearch, entries: AuditEntry[]): SafeHtml {
  return html`<h1>Audit</h1>
${v.ok
  ? html`<p class="chain ok" id="chain">The chain holds: all ${v.rows.toString()} entries verified.</p>`
  : html`<p class="chain broken error" id="chain">The chain is broken at entry ${v.firstBrokenId.toString()}: ${v.reason} (${v.rows.toString()} entries checked before it).</p>`}
<form method="get" action="/audit" class="filter" id="audit-filter">
<label>Actor <input type="text" name="actor" maxlength="200" value="${filter.actor ?? ''}"></label>
<label>Action starts with <input type="text" name="action" maxlength="200" value="${filter.actionPrefix ?? ''}" placeholder="approval."></label>
<label>Subject <input type="text" name="subject" maxlength="200" value="${filter.subject ?? ''}"></label>
<label>From (UTC) <input type="datetime-local" step="1" name="from" value="${local(filter.from)}"></label>
<label>To (UTC) <input type="datetime-local" step="1" name="to" value="${local(filter.to)}"></label>
<label>At most <input type="number" name="limit" min="1" max="${String(MAX_AUDIT_LIMIT)}" value="${String(filter.limit)}"></label>
<button type="submit">Filter</button>
</form>
<p>${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, newest first${entries.length === filter.limit ? ' (the limit: narrow the filter or raise it to see more)' : ''}.</p>
<table class="audit">
<thead><tr><th>#</th><th>When</th><th>Actor</th><th>Action</th><th>Subject</th><th>Detail</th></tr></thead>
<tbody>
${entries.map(
  (e) => html`<tr data-audit="${String(e.id)}"><td>${String(e.id)}</td><td>${when(e.at)}</td><td class="actor">${e.actor}</td><td class="action">${e.action}</td><td class="subject">${e.subject}</td><td><code>${JSON.stringify(e.detail)}</code></td></tr>`,
)}
</tbody>
</table>`;
}
