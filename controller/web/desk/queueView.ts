import type { ListQueueResponse, QueueEntry } from '../../../proto/gen/cordon/v1/desk.js';
import type { QueueCounts } from '../../desk/deskQueue.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';

const link = (href: string, text: string) => html`<a href="${href}">${text}</a>`;
const incidentLink = (id: string) => link(`/incidents/${encodeURIComponent(id)}`, id);

/** What the entry is about: an incident, a host (with the incident holding its restriction), or a report (with the incident it would join). */
function subject(e: QueueEntry): SafeHtml {
  const incident = e.incident ? incidentLink(e.incident.id) : '';
  if (e.complaint) {
    const c = e.complaint;
    return html`<span class="complaint">report ${c.id}</span>${incident ? html`<br>joins ${incident}` : ''}`;
  }
  if (e.hostId) return html`${link(`/hosts/${encodeURIComponent(e.hostId)}`, e.hostId)}${incident ? html`<br>${incident}` : ''}`;
  return incident || html``;
}

/** The report's facts an operator decides on: who sent it, about which address and what. */
function reportFacts(e: QueueEntry): SafeHtml | string {
  const c = e.complaint;
  if (!c) return '';
  return html`<br><span class="report">from ${c.reporter || 'an unknown reporter'} (${c.reporterKind || 'unknown kind'}${c.trusted ? ', trusted' : ''}) about ${c.ip || 'no address'}, ${c.category || 'no category'}</span>`;
}

function row(e: QueueEntry): SafeHtml {
  // data-* names the subject, so a test (and the live script) finds the row of one incident, host or report.
  const data = e.complaint ? html`data-complaint="${e.complaint.id}"` : e.hostId ? html`data-host="${e.hostId}"` : html`data-incident="${e.incident?.id ?? ''}"`;
  return html`<tr ${data} data-why="${e.why}">
<td>${subject(e)}</td>
<td><span class="why">${e.why.replace(/_/g, ' ')}</span>: ${e.reason}${e.unseen > 0 ? html` <span class="unseen">(${e.unseen} unseen)</span>` : ''}${reportFacts(e)}</td>
<td>${when(e.since)}</td>
<td>${e.hostId || e.incident?.hostId || ''}</td>
<td class="state">${e.incident?.state ?? (e.complaint ? e.complaint.status : '')}</td>
</tr>`;
}

/** "Showing 200 of 1,950", and how many wait for each reason, when the counts are known. */
function summary(shown: number, counts: QueueCounts | undefined): SafeHtml {
  if (!counts) return html`<p>${shown} waiting for a person, most urgent first.</p>`;
  const per = Object.entries(counts.byWhy).filter(([, n]) => n > 0);
  const of = shown < counts.total ? html`Showing ${shown} of ${counts.total.toLocaleString('en')}` : html`${counts.total.toLocaleString('en')}`;
  return html`<p>${of} waiting for a person, most urgent first.</p>
<p class="counts">${per.map(([why, n], k) => html`${k > 0 ? ', ' : ''}<span data-count="${why}">${why.replace(/_/g, ' ')} ${n.toLocaleString('en')}</span>`)}</p>`;
}

/**
 * The queue: what waits for a person, most urgent first (ListQueue's order),
 * each with why, since when, and a link to what it is about. `counts`
 * (countQueue) lets the page say how many it left out.
 */
export function queueView(q: ListQueueResponse, counts?: QueueCounts): SafeHtml {
  if (q.entries.length === 0) return html`<h1>Queue</h1><p class="empty">Nothing waits for a person.</p>`;
  return html`<h1>Queue</h1>
${summary(q.entries.length, counts)}
<table class="queue">
<thead><tr><th>About</th><th>Why it waits</th><th>Since</th><th>Host</th><th>State</th></tr></thead>
<tbody>
${q.entries.map(row)}
</tbody>
</table>`;
}
