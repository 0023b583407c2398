import type { DeskHealth } from '../../desk/deskHealth.js';
import { DEADLINE_HORIZON_HOURS, REVERSAL_WINDOW_DAYS } from '../../desk/deskHealth.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';

const words = (s: string) => s.replace(/_/g, ' ');

/** The reversal rate as a percentage, or why there is none. */
function rate(ratio: number | undefined): string {
  return ratio === undefined ? 'no rate: nothing was restricted in the window' : `${(ratio * 100).toFixed(1)} %`;
}

/**
 * The desk's health (readDeskHealth): every figure at the incident clock's
 * `at`. The reversal rate is a flow, not a cohort, so it can exceed 100 %
 * (see reversalRatio); the page says what it counts rather than rounding
 * that away.
 */
export function healthView(h: DeskHealth): SafeHtml {
  const open = Object.entries(h.openIncidents);
  const total = open.reduce((n, [, c]) => n + c, 0);
  const kinds = Object.entries(h.restrictions.byKind);
  const r = h.reversal;
  return html`<h1>The desk's health</h1>
<p>As of ${when(h.at)} on the incident clock.</p>
<h2>Open incidents (${total})</h2>
<table class="health" id="open-incidents">
${open.map(([state, n]) => html`<tr data-state="${state}"><th>${words(state)}</th><td>${String(n)}</td></tr>`)}
</table>
<h2>Restrictions in force</h2>
<table class="health" id="restrictions">
<tr><th>Hosts restricted</th><td id="hosts-restricted">${String(h.restrictions.hosts)}</td></tr>
${kinds.map(([kind, n]) => html`<tr data-kind="${kind}"><th>${words(kind)}</th><td>${String(n)} host${n === 1 ? '' : 's'}</td></tr>`)}
<tr><th>Switch ports held down</th><td>${String(h.restrictions.switchPortsDown)}</td></tr>
</table>
<h2>Waiting</h2>
<table class="health">
<tr><th>Deadlines due within ${String(DEADLINE_HORIZON_HOURS)} h</th><td id="deadlines-due">${String(h.deadlinesDueSoon)}</td></tr>
<tr><th>Complaints needing information</th><td id="needs-info">${String(h.complaintsWaiting.needsInfo)}</td></tr>
<tr><th>Complaints held for review</th><td id="held">${String(h.complaintsWaiting.held)}</td></tr>
</table>
<h2>Reversal rate, last ${String(REVERSAL_WINDOW_DAYS)} days</h2>
<p class="reversal"><strong id="reversal-rate">${rate(r.ratio)}</strong>: ${String(r.reversed)} restriction${r.reversed === 1 ? '' : 's'} reversed (${String(r.appealsAccepted)} appeal${r.appealsAccepted === 1 ? '' : 's'} accepted, ${String(r.dismissed)} dismissed while restricting) over ${String(r.applied)} applied, from ${when(r.since)} to ${when(r.until)}. Both are counted by when they happened in the window, so a quiet month that reverses older restrictions can exceed 100 %.</p>`;
}
