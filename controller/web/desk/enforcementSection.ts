import { DispatchStatus, type BmcCheckResult, type EnforcementObservation, type HostDetail } from '../../../proto/gen/cordon/v1/desk.js';
import { describeEnforcement } from '../../cli/describeEnforcement.js';
import { html, type SafeHtml } from '../customer/html.js';
import { whenAgo, type DeskTime } from './deskTime.js';

/** Where the host's desired state stands with its agent, in a sentence (GetHost's dispatch status). */
export function dispatchWords(h: HostDetail): string {
  const want = String(h.generation);
  const held = String(h.appliedGeneration);
  switch (h.dispatch) {
    case DispatchStatus.DISPATCH_STATUS_APPLIED:
      return h.generation === 0n ? 'Nothing to enforce: the host never had a desired state.' : `Applied: the agent reported generation ${held}, the one desired.`;
    case DispatchStatus.DISPATCH_STATUS_PENDING:
      return `Pending: generation ${want} was sent and the agent has not reported it yet (it last reported ${held}).`;
    case DispatchStatus.DISPATCH_STATUS_FAILED:
      return `Failed: the agent reported an error for generation ${want}${h.dispatchError ? `: ${h.dispatchError}` : ''}.`;
    case DispatchStatus.DISPATCH_STATUS_UNREACHABLE:
      return `Agent unreachable: it is not connected, so generation ${want} waits for it (it last reported ${held}).`;
    default:
      return `Unknown dispatch status; generation ${want} desired, ${held} reported.`;
  }
}

/** What the agent or the switch confirmed, in a sentence: a decided restriction is not one in force. */
export function observedWords(o: EnforcementObservation): SafeHtml {
  const since = o.since ? ` since ${o.since.toISOString()}` : '';
  switch (o.observed) {
    case 'confirmed':
      return html`Confirmed${since}: ${o.reason}.`;
    case 'switch_only':
      return html`<strong>Cut at the switch only</strong>${since}: ${o.reason}.`;
    case 'unconfirmed':
      return html`<strong>Not confirmed</strong>${since}: ${o.reason}.`;
    case 'lifting':
      return html`<strong>Lift not confirmed</strong>${since}: ${o.reason}.`;
    default:
      return html`Nothing in force: ${o.reason}.`;
  }
}

function checks(list: readonly BmcCheckResult[], t: DeskTime): SafeHtml {
  if (list.length === 0) return html`<p>No BMC check around this incident.</p>`;
  return html`<table class="bmc-checks">
<thead><tr><th>When</th><th>Result</th><th>SOL</th><th>Took</th><th>Error</th></tr></thead>
<tbody>
${list.map(
  (c) => html`<tr data-reachable="${c.reachable ? 'yes' : 'no'}"><td>${whenAgo(c.checkedAt, t)}</td><td>${c.reachable ? 'answered' : html`<strong>did not answer</strong>`}</td><td>${c.sol || '—'}</td><td>${c.durationMs} ms</td><td>${c.error || '—'}</td></tr>`,
)}
</tbody>
</table>`;
}

/**
 * Enforcement on the incident's host as the agent reports it (GetHost's
 * HostDetail: generation desired against applied, the dispatch status, each
 * enforcement in force in words with its incident), and the host's BMC
 * checks around the incident, newest first.
 */
export function enforcementSection(incidentId: string, hostId: string, h: HostDetail | undefined, bmcChecks: readonly BmcCheckResult[], t: DeskTime): SafeHtml {
  if (!h) return html`<h2>Enforcement on ${hostId}</h2><p>Host ${hostId} is no longer in the inventory.</p>`;
  const bmc = h.host?.bmc;
  const port = h.switchPort;
  return html`<h2>Enforcement on <a href="/hosts/${encodeURIComponent(hostId)}">${hostId}</a></h2>
<p class="dispatch" id="dispatch">${dispatchWords(h)}</p>
${h.observed ? html`<p class="observed" id="observed" data-observed="${h.observed.observed}">${observedWords(h.observed)}</p>` : ''}
<p>Generation desired ${String(h.generation)}, applied ${String(h.appliedGeneration)}.</p>
${h.enforcements.length === 0
  ? html`<p class="in-force">Nothing is in force on this host.</p>`
  : html`<ul class="in-force">${h.enforcements.map(
      (e) => html`<li>${describeEnforcement(e)}: ${e.incidentId === incidentId ? 'this incident' : html`<a href="/incidents/${encodeURIComponent(e.incidentId)}">${e.incidentId}</a>`}${e.reason ? html` (${e.reason})` : ''}</li>`,
    )}</ul>`}
${port ? html`<p>Switch port ${port.switchId} ${port.hostPort}: ${port.portDown ? html`<strong>shut by Cordon</strong> (${port.reason})` : 'up'}.</p>` : ''}
<h3>BMC checks</h3>
<p>${bmc ? html`BMC at ${bmc.address}${bmc.sol ? ' (serial-over-LAN required)' : ''}.` : 'No BMC on file for this host: a cut waits for an operator to override.'}</p>
${checks(bmcChecks, t)}`;
}
