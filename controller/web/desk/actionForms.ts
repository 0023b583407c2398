import type { Incident } from '../../../proto/gen/cordon/v1/desk.js';
import { MAX_REASON_CHARS } from '../../desk/customerVoiceDesk.js';
import { MAX_NOTE_CHARS } from '../../desk/incidentDesk.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';
import type { DeskTime } from './deskTime.js';
import { DESK_ACTIONS, DESK_ANSWERS, DESK_DECISIONS, MAX_RATE_MBPS, type DeskDecision } from './incidentForms.js';

/** Which DeskService methods the operator may call (DeskAccess.may): a form appears only for those. */
export interface IncidentPermissions {
  answer: boolean;
  decide: boolean;
  enforce: boolean;
}

/** How long a customer's plan runs by default: the resolve window (72 h) from now on the incident clock. */
const PLAN_DEFAULT_MS = 72 * 3_600_000;

const action = (incidentId: string, verb: string) => `/incidents/${encodeURIComponent(incidentId)}/${verb}`;
const hidden = (csrf: string) => html`<input type="hidden" name="csrf" value="${csrf}">`;
/** A datetime-local value, in UTC like every time on the desk. */
const local = (d: Date) => d.toISOString().slice(0, 16);

function answerForm(i: Incident, csrf: string, t: DeskTime): SafeHtml {
  return html`<form method="post" action="${action(i.id, 'answer')}" id="form-answer" class="decide">
${hidden(csrf)}
<p><strong>Answer on the customer's behalf</strong>: record what the customer told you outside Cordon (by phone, by a mail it did not thread). An acknowledgement needs nothing more; fixed, false positive and a plan need what the customer said.</p>
<fieldset><legend>The customer says the incident is</legend>
${Object.entries(DESK_ANSWERS).map(([value, a], n) => html`<label><input type="radio" name="answer" value="${value}"${n === 0 ? html` checked` : ''}> ${a.label}</label> `)}
</fieldset>
<label>Plan: fixed by (UTC; the incident clock reads ${when(t.now)})<br><input type="datetime-local" name="planDueAt" value="${local(new Date(t.now.getTime() + PLAN_DEFAULT_MS))}"></label><br>
<label>What the customer said<br><textarea name="note" rows="3" cols="80" maxlength="${MAX_NOTE_CHARS}"></textarea></label><br>
<button type="submit">Record the answer</button>
</form>`;
}

function decisionForm(i: Incident, csrf: string, decision: DeskDecision): SafeHtml {
  const d = DESK_DECISIONS[decision];
  return html`<form method="post" action="${action(i.id, 'decide')}" id="form-${decision}" class="decide">
${hidden(csrf)}
<input type="hidden" name="decision" value="${decision}">
<label>${d.label}: ${d.help}<br>
<input type="text" name="reason" maxlength="${MAX_REASON_CHARS}" placeholder="reason${d.reason === 'required' ? ' (required)' : ''}"${d.reason === 'required' ? html` required` : ''}></label>
<button type="submit">${d.label}</button>
</form>`;
}

function enforceForm(i: Incident, csrf: string): SafeHtml {
  return html`<form method="post" action="${action(i.id, 'enforce')}" id="form-enforce" class="decide">
${hidden(csrf)}
<p><strong>Enforce on ${i.hostId}</strong>, for this incident. A cut (isolate, interfaces down) goes ahead only while the host's BMC answers; otherwise it is held pending BMC. An action the four-eyes rules reserve needs a second operator's approval.</p>
<label>Action <select name="action">${Object.entries(DESK_ACTIONS).map(([value, words]) => html`<option value="${value}">${words}</option>`)}</select></label>
<label>Rate for a throttle, Mbit/s <input type="number" name="rate" min="0.008" max="${MAX_RATE_MBPS}" step="any" value="10"></label><br>
<label>Reason (required; the customer's statement of reasons quotes it)<br><input type="text" name="reason" maxlength="${MAX_REASON_CHARS}" required></label>
<button type="submit">Enforce</button>
</form>`;
}

/**
 * The forms an operator's role allows on this incident, and none for anyone
 * else: a viewer's page has no form at all. The server refuses a forged POST
 * all the same; whether an action fits the incident's state is the
 * lifecycle's to say, in its own words, so the forms are offered whatever
 * the state, except the BMC override, which only a held cut can use.
 */
export function actionForms(i: Incident, may: IncidentPermissions, csrf: string, t: DeskTime): SafeHtml | undefined {
  if (!may.answer && !may.decide && !may.enforce) return undefined;
  const decisions = (Object.keys(DESK_DECISIONS) as DeskDecision[]).filter((d) => d !== 'override_bmc' || i.hold === 'bmc_unreachable');
  return html`<section class="actions" id="actions">
<h2>Act</h2>
${may.decide ? html`<h3>Decide</h3>${decisions.map((d) => decisionForm(i, csrf, d))}` : ''}
${may.answer ? answerForm(i, csrf, t) : ''}
${may.enforce ? enforceForm(i, csrf) : ''}
</section>`;
}
