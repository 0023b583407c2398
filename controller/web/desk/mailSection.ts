import type { IncidentMail } from '../../../proto/gen/cordon/v1/desk.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';
import { dueWords, whenAgo, type DeskTime } from './deskTime.js';

const tries = (n: number) => `${n} attempt${n === 1 ? '' : 's'}`;

/** A mail's delivery in words, by the outbox's status (never by its error text). */
export function deliveryWords(m: IncidentMail, t: DeskTime): SafeHtml {
  switch (m.status) {
    case 'pending':
      return m.attempts === 0
        ? html`queued; goes out ${when(m.dueAt)} (${dueWords(m.dueAt, t)})`
        : html`not delivered yet after ${tries(m.attempts)}; next try ${when(m.dueAt)} (${dueWords(m.dueAt, t)})`;
    case 'in_flight':
      return html`being sent now (attempt ${m.attempts})`;
    case 'done':
      return html`handed to the mail relay${m.attempts > 1 ? ` after ${tries(m.attempts)}` : ''}`;
    case 'dead':
      return html`<strong>given up</strong> after ${tries(m.attempts)}: the customer did not get it`;
    default:
      return html`${m.status}`;
  }
}

/**
 * The mails Cordon sent or is sending about the incident, oldest first
 * (GetIncident bounds them to the newest few), with their delivery, the last
 * error the relay gave, and a bounce when one came back.
 */
export function mailSection(mails: readonly IncidentMail[], t: DeskTime): SafeHtml {
  return html`<h2>Mails to the customer (${mails.length})</h2>
${mails.length === 0
  ? html`<p>No mail about this incident.</p>`
  : html`<table class="mails">
<thead><tr><th>Mail</th><th>To</th><th>Subject</th><th>Delivery</th><th>Last error</th><th>Bounced</th></tr></thead>
<tbody>
${mails.map(
  (m) => html`<tr data-mail="${m.id}" data-status="${m.status}">
<td>${m.kind.replace(/_/g, ' ')} <span class="id">#${m.id}</span></td>
<td>${m.to || '—'}</td>
<td>${m.subject}</td>
<td class="delivery">${deliveryWords(m, t)}</td>
<td class="last-error">${m.lastError || '—'}</td>
<td class="bounced">${m.bouncedAt ? html`<strong>bounced</strong> ${whenAgo(m.bouncedAt, t)}` : '—'}</td>
</tr>`,
)}
</tbody>
</table>
<p class="note">The outbox keeps no time of queueing; the history below has the event that queued each mail.</p>`}`;
}
