import type { ListQueueResponse } from '../../../proto/gen/cordon/v1/desk.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';

/** The queue: what waits for a person, most urgent first (ListQueue's order), each with why and since when. */
export function queueView(q: ListQueueResponse): SafeHtml {
  if (q.entries.length === 0) return html`<h1>Queue</h1><p class="empty">Nothing waits for a person.</p>`;
  return html`<h1>Queue</h1>
<p>${q.entries.length} incident${q.entries.length === 1 ? '' : 's'} waiting for a person, most urgent first.</p>
<table class="queue">
<thead><tr><th>Incident</th><th>Why it waits</th><th>Since</th><th>Host</th><th>State</th></tr></thead>
<tbody>
${q.entries.map(
  (e) => html`<tr data-incident="${e.incident?.id ?? ''}">
<td><a href="/incidents/${encodeURIComponent(e.incident?.id ?? '')}">${e.incident?.id ?? ''}</a></td>
<td><span class="why">${e.why.replace(/_/g, ' ')}</span>: ${e.reason}${e.unseen > 0 ? html` <span class="unseen">(${e.unseen} unseen)</span>` : ''}</td>
<td>${when(e.since)}</td>
<td>${e.incident?.hostId ?? ''}</td>
<td class="state">${e.incident?.state ?? ''}</td>
</tr>`,
)}
</tbody>
</table>`;
}
