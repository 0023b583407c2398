import type { ComplaintRecord } from '../../../proto/gen/cordon/v1/desk.js';
import { html, type SafeHtml } from '../customer/html.js';
import { authenticationWords } from './authenticationWords.js';
import { whenAgo, type DeskTime } from './deskTime.js';

/** Where a complaint's raw report is served as text (GetComplaintRaw). */
export function rawPath(incidentId: string, complaintId: string): string {
  return `/incidents/${encodeURIComponent(incidentId)}/complaints/${encodeURIComponent(complaintId)}/raw`;
}

function authentication(c: ComplaintRecord): SafeHtml {
  const a = authenticationWords(c.authentication);
  return html`<div class="authentication">
<p class="verdict">${a.verdict}</p>
${a.reason ? html`<p class="why">Why: ${a.reason}</p>` : ''}
${a.checks.length > 0 ? html`<ul class="checks">${a.checks.map((line) => html`<li>${line}</li>`)}</ul>` : ''}
<details><summary>The authentication record (JSON)</summary><pre>${a.json}</pre></details>
</div>`;
}

/**
 * The incident's complaints: who reported, how it was authenticated in
 * words, the evidence, and (for those allowed GetComplaintRaw) a link to the
 * raw report, which the page never inlines: it is served as text/plain.
 * Everything reporters wrote goes through `html`, which escapes.
 */
export function complaintSection(incidentId: string, complaints: readonly ComplaintRecord[], t: DeskTime, mayReadRaw: boolean): SafeHtml {
  return html`<h2>Complaints (${complaints.length})</h2>
${complaints.map(
  (c) => html`<section class="complaint" id="complaint-${c.id}">
<h3>${c.id}: ${c.category} from ${c.ip}</h3>
<p>Received ${whenAgo(c.receivedAt, t)}${!c.eventTime ? '' : c.eventTimeSource === 'receipt' ? html`, dated ${whenAgo(c.eventTime, t)} (receipt time: the report states no event time)` : html`, about an event at ${whenAgo(c.eventTime, t)}`}; status ${c.status}${c.reason ? `: ${c.reason}` : ''}${c.duplicateOf ? `; duplicate of ${c.duplicateOf}` : ''}.</p>
<p class="reporter">Reporter: ${c.reporter || 'anonymous'} (${c.reporterKind || 'kind not given'}), ${c.trusted ? 'trusted' : 'not trusted'}${c.messageId ? html`; Message-ID <code>${c.messageId}</code>` : ''}.</p>
${authentication(c)}
<h4>Evidence</h4>
<pre class="evidence">${c.evidence}</pre>
${c.excerpt && c.excerpt !== c.evidence ? html`<details><summary>What the customer was sent of it</summary><pre>${c.excerpt}</pre></details>` : ''}
${mayReadRaw ? html`<p><a class="raw" href="${rawPath(incidentId, c.id)}">The raw report, as received (plain text)</a></p>` : ''}
</section>`,
)}`;
}
