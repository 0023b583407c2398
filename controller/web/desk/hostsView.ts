import { AgentState, DispatchStatus, type AgentSession, type Host, type HostDetail } from '../../../proto/gen/cordon/v1/desk.js';
import { describeEnforcement } from '../../cli/describeEnforcement.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';

/** One row of the fleet: the inventory's host, its agent's session (ListAgents), and what it should enforce (GetHost). */
export interface FleetRow {
  host: Host;
  agent: AgentSession | undefined;
  detail: HostDetail;
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

/** "42 s", "3 min", "5 h", "2 d": how long ago, against the desk's now (the incident clock's, so drill ages read right). */
export function ageOf(then: Date | undefined, now: Date): string {
  if (!then) return '—';
  const s = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

function agentCell(a: AgentSession | undefined, host: Host): SafeHtml {
  const state = AGENT_WORDS[a?.state ?? host.agentState] ?? 'never seen';
  return html`<span class="agent agent-${state.replace(/ /g, '-')}">${state}</span>`;
}

function generationCell(d: HostDetail): SafeHtml {
  const words = DISPATCH_WORDS[d.dispatch] ?? 'unknown';
  return html`${String(d.appliedGeneration)} of ${String(d.generation)} <span class="dispatch">(${words})</span>`;
}

function enforcementList(d: HostDetail): SafeHtml | string {
  if (d.enforcements.length === 0) return 'none';
  return html`<ul class="enforcements">${d.enforcements.map(
    (e) => html`<li>${describeEnforcement(e)}: <a href="/incidents/${encodeURIComponent(e.incidentId)}">${e.incidentId}</a>${e.reason ? html` (${e.reason})` : ''}</li>`,
  )}</ul>`;
}

function bmcCell(d: HostDetail, now: Date): SafeHtml | string {
  const c = d.lastBmcCheck;
  if (!c) return 'never checked';
  return html`${c.reachable ? 'reachable' : 'unreachable'}, ${ageOf(c.checkedAt, now)} ago${c.error ? html` (${c.error})` : ''}`;
}

/** The fleet: every host (or those the search found) with its agent, generations, enforcements and last BMC check. */
export function fleetView(rows: FleetRow[], q: string, now: Date, truncated: number): SafeHtml {
  const counts = { connected: 0, stale: 0, disconnected: 0, 'never seen': 0 } as Record<string, number>;
  for (const r of rows) counts[AGENT_WORDS[r.agent?.state ?? r.host.agentState] ?? 'never seen']! += 1;
  return html`<h1>Hosts and the fleet</h1>
<form method="get" action="/hosts" class="search"><label>Search <input name="q" value="${q}" maxlength="200" placeholder="IP, prefix, host, customer or incident"></label> <button>Find</button></form>
<p class="fleet-counts">${rows.length} host${rows.length === 1 ? '' : 's'}${q ? html` matching <q>${q}</q>` : ''}: ${counts['connected']} connected, ${counts['stale']} stale, ${counts['disconnected']} disconnected, ${counts['never seen']} never seen.${truncated > 0 ? html` ${truncated} more not shown; search to narrow.` : ''}</p>
${rows.length === 0 ? html`<p class="empty">No host matches.</p>` : html`<table class="hosts">
<thead><tr><th>Host</th><th>Customer</th><th>Prefixes</th><th>Agent</th><th>Heartbeat</th><th>Round trip</th><th>Generation applied of desired</th><th>In force</th><th>Last BMC check</th></tr></thead>
<tbody>
${rows.map(
  (r) => html`<tr data-host="${r.host.id}">
<td><a href="/hosts/${encodeURIComponent(r.host.id)}">${r.host.id}</a></td>
<td>${r.host.customerId}</td>
<td>${r.host.publicPrefixes.join(', ')}</td>
<td>${agentCell(r.agent, r.host)}</td>
<td>${r.agent?.lastHeartbeat ? `${ageOf(r.agent.lastHeartbeat, now)} ago` : '—'}</td>
<td>${r.agent && r.agent.lastRttMs > 0 ? `${r.agent.lastRttMs} ms` : '—'}</td>
<td>${generationCell(r.detail)}</td>
<td>${enforcementList(r.detail)}</td>
<td>${bmcCell(r.detail, now)}</td>
</tr>`,
)}
</tbody>
</table>`}`;
}

/** One host in detail: inventory, customer, agent session, dispatch, what is in force and why, BMC and switch port. */
export function hostView(r: FleetRow, now: Date): SafeHtml {
  const h = r.detail.host ?? r.host;
  const a = r.agent;
  const port = r.detail.switchPort;
  return html`<h1>Host ${h.id}</h1>
<dl class="host">
<dt>Customer</dt><dd>${h.customerId}${h.customerName ? ` (${h.customerName})` : ''}</dd>
<dt>Prefixes</dt><dd>${h.publicPrefixes.join(', ')}</dd>
<dt>Management address</dt><dd>${h.managementAddress}</dd>
<dt>Agent</dt><dd>${agentCell(a, r.host)}${a ? html`, version ${a.agentVersion || '—'}, from ${a.peerAddress || '—'}` : ''}</dd>
<dt>Last heartbeat</dt><dd>${a?.lastHeartbeat ? html`${when(a.lastHeartbeat)} (${ageOf(a.lastHeartbeat, now)} ago)` : '—'}</dd>
<dt>Round trip</dt><dd>${a && a.lastRttMs > 0 ? `${a.lastRttMs} ms` : '—'}</dd>
<dt>Connected since</dt><dd>${when(a?.connectedSince)}</dd>
${a?.disconnectedAt ? html`<dt>Disconnected</dt><dd>${when(a.disconnectedAt)}: ${a.disconnectReason}</dd>` : ''}
<dt>Generation</dt><dd>agent holds ${a ? String(a.generationHeld) : '—'}; applied ${generationCell(r.detail)}${r.detail.dispatchError ? html`; error: ${r.detail.dispatchError}` : ''}</dd>
<dt>In force</dt><dd>${enforcementList(r.detail)}</dd>
<dt>BMC</dt><dd>${h.bmc ? html`${h.bmc.address}` : 'none on file'}; last check: ${bmcCell(r.detail, now)}</dd>
${port ? html`<dt>Switch port</dt><dd>${port.switchId} ${port.hostPort}: ${port.portDown ? html`<strong>shut by Cordon</strong> (${port.reason}, ${when(port.changedAt)})` : 'up'}</dd>` : ''}
</dl>`;
}
