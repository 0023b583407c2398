import type { CustomerFile, CustomerLinkRecord, CustomerMessageRecord } from '../../../proto/gen/cordon/v1/desk.js';
import { html, type SafeHtml } from '../customer/html.js';
import { whenAgo, type DeskTime } from './deskTime.js';

/** Where a customer's evidence file is downloaded (GetCustomerFile: audited, abuse operators and up). */
export function filePath(incidentId: string, fileId: string): string {
  return `/incidents/${encodeURIComponent(incidentId)}/files/${encodeURIComponent(fileId)}`;
}

function bytes(n: bigint): string {
  const v = Number(n);
  if (v < 1024) return `${v} bytes`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${(v / 1024 / 1024).toFixed(1)} MiB`;
}

function message(m: CustomerMessageRecord, t: DeskTime): SafeHtml {
  return html`<section class="message" id="message-${m.id}">
<p>${whenAgo(m.at, t)}: ${m.kind.replace(/_/g, ' ')}${m.answer ? ` (${m.answer.replace(/_/g, ' ')})` : ''}${m.planDueAt ? html`, fix promised by ${whenAgo(m.planDueAt, t)}` : ''} by ${m.channel}, ${m.actor}${m.seenBy ? `; seen by ${m.seenBy}` : '; not seen yet'}</p>
${m.body ? html`<pre>${m.body}</pre>` : ''}
</section>`;
}

/** The customer's files: metadata for everyone on the desk, the download link only for those allowed GetCustomerFile. */
function files(incidentId: string, list: readonly CustomerFile[], mayDownload: boolean): SafeHtml {
  if (list.length === 0) return html`<p>No files from the customer.</p>`;
  return html`<table class="files">
<thead><tr><th>File</th><th>Type</th><th>Size</th><th>SHA-256</th></tr></thead>
<tbody>
${list.map(
  (f) => html`<tr data-file="${f.id}">
<td>${mayDownload ? html`<a class="download" href="${filePath(incidentId, f.id)}" download>${f.filename}</a>` : f.filename}</td>
<td>${f.contentType}</td>
<td>${bytes(f.size)}</td>
<td><code>${f.sha256}</code></td>
</tr>`,
)}
</tbody>
</table>`;
}

/** The page links made for the customer: when, by whom, for which address, and whether revoked. Tokens are never stored, so never shown. */
function links(list: readonly CustomerLinkRecord[], t: DeskTime): SafeHtml {
  if (list.length === 0) return html`<p>No page link was made for this incident.</p>`;
  return html`<ul class="links">${list.map(
    (l) => html`<li data-link="${l.id}">Made ${whenAgo(l.createdAt, t)} by ${l.createdBy} for ${l.contact}: ${l.revokedAt ? html`revoked ${whenAgo(l.revokedAt, t)} by ${l.revokedBy}` : 'live'}</li>`,
  )}</ul>`;
}

/** What the customer said (answers, replies, bounces), their files and their page links. */
export function customerSection(incidentId: string, d: { messages: readonly CustomerMessageRecord[]; files: readonly CustomerFile[]; links: readonly CustomerLinkRecord[] }, t: DeskTime, mayDownload: boolean): SafeHtml {
  return html`<h2>The customer (${d.messages.length} message${d.messages.length === 1 ? '' : 's'})</h2>
${d.messages.length === 0 ? html`<p>Nothing from the customer yet.</p>` : d.messages.map((m) => message(m, t))}
<h3>Files</h3>
${files(incidentId, d.files, mayDownload)}
<h3>Page links</h3>
${links(d.links, t)}`;
}
