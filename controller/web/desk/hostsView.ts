import { observedWords } from './enforcementSection.js';
import { AgentState, DispatchStatus, type AgentSession, type Host, type HostDetail } from '../../../proto/gen/cordon/v1/desk.js';
import { describeEnforcement } from '../../cli/describeEnforcement.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';
import { agoWords, span, type DeskTime } from './deskTime.js';
import { securitySection, type HostSecurity } from './securitySection.js';

/** One row of the fleet: the inventory's host, its agent's session (ListAgents), and what it should enforce (GetHost). */
export interface FleetRow {
  host: Host;
  agent: AgentSession | undefined;
  detail: HostDetail;
  /** Drift the agent found and put back since it started, per its last report; undefined before a report counts them. */
  driftRepairs: bigint | undefined;
}

/**
 * The two clocks a fleet page reads. Agents' sessions (heartbeats, round
 * trips, connections) are facts of the wire, on the wall clock; incidents,
 * enforcements and BMC checks are stamped on the incident clock, which a
 * drill moves. Each age is measured against the clock that stamped it, so
 * both read as elapsed wall time outside a drill.
 */
export interface FleetClocks {
  wall: Date;
  incident: DeskTime;
}

const AGENT_WORDS: Record<number, string> = {
  [AgentState.AGENT_STATE_CONNECTED]: 'connected',
  [AgentState.AGENT_STATE_STALE]: 'stale',
  [AgentState.AGENT_STATE_DISCONNECTED]: 'disconnected',
  [AgentState.AGENT_STATE_NEVER_SEEN]: 'never seen',
};
const DISPATCH_WORDS: Record<number, string> = {
  [DispatchStatus.DISPATCH_STATUS_APPLIED]: 'applied',
  [DispatchStatus.DISPATCH_STATUS_PENDING]: 'pending',
  [DispatchStatus.DISPATCH_STATUS_FAILED]: 'failed',
  [DispatchStatus.DISPATCH_STATUS_UNREACHABLE]: 'agent unreachable',
};

/** "42 s ago" on the wall clock: how long ago, for the agents' sessions. */
export function wallAgo(then: Date | undefined, wall: Date): string {
  return then ? `${span(Math.max(0, (wall.getTime() - then.getTime()) / 1000))} ago` : '—';
}

function agentCell(a: AgentSession | undefined, host: Host): SafeHtml {
  const state = AGENT_WORDS[a?.state ?? host.agentState] ?? 'never seen';
  return html`<span class="agent agent-${state.replace(/ /g, '-')}">${state}</span>`;
}

/** The generation the agent holds (its live session's, else its last report's) of the one desired, and the dispatch status. */
function generationCell(d: HostDetail, a: AgentSession | undefined): SafeHtml {
  const words = DISPATCH_WORDS[d.dispatch] ?? 'unknown';
  const held = a && a.state !== AgentState.AGENT_STATE_DISCONNECTED ? a.generationHeld : d.appliedGeneration;
  return html`${String(held)} of ${String(d.generation)} <span class="dispatch">(${words})</span>`;
}

function driftCell(r: FleetRow): string {
  return r.driftRepairs === undefined ? '—' : String(r.driftRepairs);
}

function enforcementList(d: HostDetail): SafeHtml | string {
  if (d.enforcements.length === 0) return 'none';
  return html`<ul class="enforcements">${d.enforcements.map(
    (e) => html`<li>${describeEnforcement(e)}: <a href="/incidents/${encodeURIComponent(e.incidentId)}">${e.incidentId}</a>${e.reason ? html` (${e.reason})` : ''}</li>`,
  )}</ul>`;
}

/** BMC checks are stamped on the incident clock: their age is measured on it. */
function bmcCell(d: HostDetail, t: DeskTime): SafeHtml | string {
  const c = d.lastBmcCheck;
  if (!c) return 'never checked';
  return html`${c.reachable ? 'reachable' : 'unreachable'}, ${agoWords(c.checkedAt, t)}${c.error ? html` (${c.error})` : ''}`;
}

const SOL_WORDS: Record<string, string> = {
  ok: 'Serial-over-LAN available',
  unavailable: 'Serial-over-LAN unavailable',
  not_required: 'Serial-over-LAN not checked (not required for this host)',
};

/** The host page's last check in full: answered or not, SOL, how long it took, when, and why it failed in the driver's words. */
function bmcCheckDetail(d: HostDetail, t: DeskTime): SafeHtml | string {
  const c = d.lastBmcCheck;
  if (!c) return 'never checked';
  const sol = SOL_WORDS[c.sol] ?? `Serial-over-LAN ${c.sol || 'unknown'}`;
  return html`<strong>${c.reachable ? 'reachable' : 'unreachable'}</strong>; ${sol}; took ${String(c.durationMs)} ms; ${when(c.checkedAt)} (${agoWords(c.checkedAt, t)})${c.error ? html`<br><span class="bmc-error">${c.error}</span>` : ''}`;
}

/** In a drill, which clock each time on the page is read on. */
function clockNote(c: FleetClocks): SafeHtml | string {
  if (!c.incident.apart) return '';
  const off = c.incident.offsetSeconds;
  const how = `${span(off)} ${off >= 0 ? 'ahead of' : 'behind'} the wall clock`;
  const which = 'Deadlines, enforcements and BMC checks are on the incident clock; heartbeats, round trips and connections are wall-clock.';
  return c.incident.drill
    ? html`<p class="clock" id="clock">Drill mode is on: the incident clock reads ${when(c.incident.now)}, ${how}. ${which}</p>`
    : html`<p class="clock" id="clock">The incident clock reads ${when(c.incident.now)}, ${how}. ${which}</p>`;
}

/** The fleet: every host (or those the search found) with its agent, generations, enforcements and last BMC check. */
export function fleetView(rows: FleetRow[], q: string, clocks: FleetClocks, truncated: number): SafeHtml {
  const counts = { connected: 0, stale: 0, disconnected: 0, 'never seen': 0 } as Record<string, number>;
  for (const r of rows) counts[AGENT_WORDS[r.agent?.state ?? r.host.agentState] ?? 'never seen']! += 1;
  return html`<h1>Hosts and the fleet</h1>
${clockNote(clocks)}
<form method="get" action="/hosts" class="search"><label>Search <input name="q" value="${q}" maxlength="200" placeholder="IP, prefix, host, customer or incident"></label> <button>Find</button></form>
<p class="fleet-counts">${rows.length} host${rows.length === 1 ? '' : 's'}${q ? html` matching <q>${q}</q>` : ''}: ${counts['connected']} connected, ${counts['stale']} stale, ${counts['disconnected']} disconnected, ${counts['never seen']} never seen.${truncated > 0 ? html` ${truncated} more not shown; search to narrow.` : ''}</p>
${rows.length === 0 ? html`<p class="empty">No host matches.</p>` : html`<table class="hosts">
<thead><tr><th>Host</th><th>Customer</th><th>Prefixes</th><th>Agent</th><th>Heartbeat</th><th>Round trip</th><th>Generation held of desired</th><th>In force</th><th>Drift repairs</th><th>Last BMC check</th></tr></thead>
<tbody>
${rows.map(
  (r) => html`<tr data-host="${r.host.id}">
<td><a href="/hosts/${encodeURIComponent(r.host.id)}">${r.host.id}</a></td>
<td>${r.host.customerId}</td>
<td>${r.host.publicPrefixes.join(', ')}</td>
<td>${agentCell(r.agent, r.host)}</td>
<td class="heartbeat">${wallAgo(r.agent?.lastHeartbeat, clocks.wall)}</td>
<td>${r.agent && r.agent.lastRttMs > 0 ? `${r.agent.lastRttMs} ms` : '—'}</td>
<td class="generation">${generationCell(r.detail, r.agent)}</td>
<td>${enforcementList(r.detail)}</td>
<td class="drift">${driftCell(r)}</td>
<td class="bmc">${bmcCell(r.detail, clocks.incident)}</td>
</tr>`,
)}
</tbody>
</table>`}`;
}

/** One host in detail: inventory, customer, agent session, dispatch, what is in force and why, BMC and switch port. */
export function hostView(r: FleetRow, clocks: FleetClocks, security?: HostSecurity): SafeHtml {
  const h = r.detail.host ?? r.host;
  const a = r.agent;
  const port = r.detail.switchPort;
  return html`<h1>Host ${h.id}</h1>
${clockNote(clocks)}
<dl class="host">
<dt>Customer</dt><dd>${h.customerId}${h.customerName ? ` (${h.customerName})` : ''}</dd>
<dt>Prefixes</dt><dd>${h.publicPrefixes.join(', ')}</dd>
<dt>Management address</dt><dd>${h.managementAddress}</dd>
<dt>Agent</dt><dd>${agentCell(a, r.host)}${a ? html`, version ${a.agentVersion || '—'}, from ${a.peerAddress || '—'}` : ''}</dd>
<dt>Last heartbeat</dt><dd>${a?.lastHeartbeat ? html`${when(a.lastHeartbeat)} (${wallAgo(a.lastHeartbeat, clocks.wall)})` : '—'}</dd>
<dt>Round trip</dt><dd>${a && a.lastRttMs > 0 ? `${a.lastRttMs} ms` : '—'}</dd>
<dt>Connected since</dt><dd>${when(a?.connectedSince)}</dd>
${a?.disconnectedAt ? html`<dt>Disconnected</dt><dd>${when(a.disconnectedAt)}: ${a.disconnectReason}</dd>` : ''}
<dt>Generation</dt><dd>held ${generationCell(r.detail, a)}; last reported applied ${String(r.detail.appliedGeneration)}${r.detail.dispatchError ? html`; error: ${r.detail.dispatchError}` : ''}</dd>
${r.detail.observed ? html`<dt>Observed</dt><dd class="observed" data-observed="${r.detail.observed.observed}">${observedWords(r.detail.observed)}</dd>` : ''}
<dt>Drift repairs</dt><dd class="drift">${r.driftRepairs === undefined ? 'none reported' : html`${String(r.driftRepairs)} since the agent started`}</dd>
<dt>In force</dt><dd>${enforcementList(r.detail)}</dd>
<dt>BMC</dt><dd>${h.bmc ? html`${h.bmc.address}:${String(h.bmc.port)}${h.bmc.sol ? ', Serial-over-LAN required' : ''}` : 'none on file'}</dd>
<dt>Last BMC check</dt><dd class="bmc-check" id="bmc-check">${bmcCheckDetail(r.detail, clocks.incident)}</dd>
${port ? html`<dt>Switch port</dt><dd>${port.switchId} ${port.hostPort}: ${port.portDown ? html`<strong>shut by Cordon</strong> (${port.reason}, ${when(port.changedAt)})` : 'up'}</dd>` : ''}
</dl>
${securitySection(security)}`;
}
