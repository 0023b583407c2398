import type { PageFacts } from '../../customer/CustomerVoice.js';
import { describeAnswer, MAX_TEXT_CHARS, type AnswerOption } from '../../customer/customerAnswers.js';
import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';

/** What the page renders besides the facts: where its forms post, their CSRF field, and a note about the last request. */
export interface PageContext {
  basePath: string;
  /** basePath + /c/ + token. */
  pagePath: string;
  csrf: string;
  /** The upload limits in words ("5 files of at most 10 MiB each"). */
  filesNote: string;
  /** A fresh one-time id per form. */
  submission: () => string;
  /** A refused answer (400/409) or a problem to show above the forms. */
  error?: string | undefined;
  /** A refused answer's fields, shown again so nothing typed is lost (with its submission id: nothing was recorded). */
  draft?: { answer: string; text: string; planDueAt: string; submission: string } | undefined;
}

const utc = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
const time = (d: Date) => html`<time datetime="${d.toISOString()}">${utc(d)}</time>`;

/** The incident page: facts, deadlines, restrictions, the console, the history, and the answers the state allows. */
export function renderIncidentPage(f: PageFacts, ctx: PageContext): string {
  const i = f.incident;
  const body = html`<h1>Abuse incident ${i.id}</h1>
${ctx.error ? html`<div class="error" role="alert"><strong>Your answer was not recorded.</strong> ${ctx.error}</div>` : ''}
<p><strong>State:</strong> ${f.state}</p>
${f.waitingForPerson ? html`<div class="banner" id="waiting"><strong>Waiting for a person of the abuse desk.</strong> Your answer is recorded; someone will look at it and decide. You will hear from us by mail.</div>` : ''}
<h2>Your server</h2>
<table>
<tr><th>Server</th><td>${f.host.id}</td></tr>
<tr><th>Public addresses</th><td>${f.host.publicPrefixes.join(', ') || '(none on record)'}</td></tr>
<tr><th>Reported as</th><td>${f.category}</td></tr>
<tr><th>Opened</th><td>${time(i.openedAt)}</td></tr>
</table>
<h2>Complaints</h2>
${i.complaintCount > f.complaints.length && f.complaints.length > 0 ? html`<p>${i.complaintCount} complaints in all; the latest ${f.complaints.length} are shown.</p>` : ''}
${f.complaints.length === 0 ? html`<p>This incident was opened by the abuse desk without a complaint to quote.</p>` : f.complaints.map(
    (c, n) => html`<h3>Complaint ${Math.max(i.complaintCount - f.complaints.length, 0) + n + 1}</h3>
<table>
<tr><th>Reported address</th><td>${c.ip}</td></tr>
<tr><th>Reported by</th><td>${c.reporter}</td></tr>
<tr><th>When it happened</th><td>${!c.eventTime ? 'not stated in the report' : c.eventTimeSource === 'receipt' ? html`not stated in the report (the report is dated ${time(c.eventTime)})` : time(c.eventTime)}</td></tr>
<tr><th>We received it</th><td>${time(c.receivedAt)}</td></tr>
</table>
<p>Evidence:</p>
<pre>${c.evidence}</pre>`,
  )}
${deadlines(f)}
<h2>Restrictions</h2>
${f.restrictions.length === 0 ? html`<p>No restriction is in force on this server because of this incident.</p>` : html`<ul>${f.restrictions.map((r) => html`<li>${r}</li>`)}</ul>`}
<h2>Console access</h2>
${f.bmc
    ? html`<p>The IPMI console (BMC) of server ${f.host.id} is at <code>${f.bmc.address}</code>; no restriction touches it. Log in to its web interface or use:</p>
<pre>ipmitool -I lanplus -H ${f.bmc.address} -U &lt;your BMC user&gt; sol activate</pre>
${i.bmcVerifiedAt ? html`<p>It answered our check at ${time(i.bmcVerifiedAt)}.</p>` : ''}`
    : html`<p>No IPMI console is on record for this server; reply to our mail if you need console access.</p>`}
${history(f, ctx)}
${decisions(f)}
${answers(f, ctx)}`;
  return layout(ctx.basePath, `Incident ${i.id}`, body);
}

function deadlines(f: PageFacts): SafeHtml {
  if (f.deadlines.length === 0) return html``;
  return html`<h2>Deadlines</h2>
<table>${f.deadlines.map((d) => html`<tr><th>${d.what}</th><td>by ${time(d.at)}<br>${d.consequence}</td></tr>`)}</table>`;
}

/** What the abuse desk decided, with the reason it gave: an answer not accepted is never a silent one. */
function decisions(f: PageFacts): SafeHtml {
  if (f.decisions.length === 0) return html``;
  return html`<h2>What the abuse desk decided</h2>
${f.decisions.map(
    (d) => html`<div class="decision">
<p><strong>${time(d.at)}</strong>: ${d.words}</p>
${d.reason ? html`<p>The reason given:</p><pre>${d.reason}</pre>` : ''}
</div>`,
  )}`;
}

function history(f: PageFacts, ctx: PageContext): SafeHtml {
  if (f.messages.length === 0) return html``;
  return html`<h2>What you told us</h2>
${f.messages.map(
    (m) => html`<div class="message">
<p><strong>${m.answer ? describeAnswer(m.answer) : 'Mail'}</strong>, ${time(m.at)}${m.channel === 'operator' ? ' (recorded by the abuse desk)' : m.channel === 'mail' ? ' (by mail)' : ''}${m.planDueAt ? html`; due ${time(m.planDueAt)}` : ''}</p>
${m.body ? html`<pre>${m.body}</pre>` : ''}
${m.files.length > 0 ? html`<ul>${m.files.map((file) => html`<li><a href="${ctx.pagePath}/files/${file.id}">${file.filename}</a> (${file.size} bytes, SHA-256 ${file.sha256.slice(0, 16)}…)</li>`)}</ul>` : ''}
</div>`,
  )}`;
}

function answers(f: PageFacts, ctx: PageContext): SafeHtml {
  if (f.readOnly) return html`<h2>Answer</h2><p>This incident is over; this page only shows it.</p>`;
  if (f.answers.length === 0) return html`<h2>Answer</h2><p>There is nothing to answer at the moment.</p>`;
  return html`<h2>Answer</h2>
<p>Choose what applies. Each answer is recorded with the time, your address and your browser, and a person of the abuse desk can read it.</p>
${f.answers.map((o) => answerForm(o, f, ctx))}`;
}

function answerForm(o: AnswerOption, f: PageFacts, ctx: PageContext): SafeHtml {
  const draft = ctx.draft?.answer === o.answer ? ctx.draft : undefined;
  const multipart = o.answer === 'false_positive';
  const hidden = html`<input type="hidden" name="csrf" value="${ctx.csrf}">
<input type="hidden" name="submission" value="${draft?.submission ?? ctx.submission()}">
<input type="hidden" name="answer" value="${o.answer}">`;
  const text = (label: string) =>
    html`<label for="text-${o.answer}">${label}</label>
<textarea id="text-${o.answer}" name="text" required maxlength="${MAX_TEXT_CHARS}">${draft?.text ?? ''}</textarea>`;
  const fields =
    o.answer === 'ack'
      ? html``
      : o.answer === 'fixed'
        ? text('What did you do to fix it?')
        : o.answer === 'false_positive'
          ? html`${text('Why is this not abuse from your server?')}
<label for="files">Evidence files (optional; ${ctx.filesNote})</label>
<input id="files" type="file" name="files" multiple>`
          : html`${text('What will you do?')}
<label for="due">Fixed by (date, at most ${f.maxPlanDays} days from now) <span data-tz-note>(UTC)</span></label>
<input id="due" type="date" name="planDueAt" required value="${draft?.planDueAt ?? ''}">
<input type="hidden" name="tz" value="">`;
  return html`<form class="answer" id="form-${o.answer}" method="post" action="${ctx.pagePath}/answer"${multipart ? html` enctype="multipart/form-data"` : ''}>
<h3>${o.label}</h3>
${hidden}
${fields}
<button type="submit">${o.answer === 'ack' ? 'Acknowledge' : 'Send'}</button>
</form>`;
}
