import type { Host } from '../../inventory/Inventory.js';
import type { BanRecord } from '../../security/BanLedger.js';
import type { ListenerState } from '../../security/ListenerLedger.js';
import { html } from './html.js';
import { layout } from './layout.js';

const utc = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
const time = (d: Date) => html`<time datetime="${d.toISOString()}">${utc(d)}</time>`;
const duration = (s: number) => (s % 86_400 === 0 ? `${s / 86_400} d` : s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`);

export interface SecurityPageContext {
  basePath: string;
  pagePath: string;
  csrf: string;
  services: { name: string; ports: number[]; newConnectionsPerMinute: number; burst: number }[];
  baseBanSeconds: number;
  maxBanSeconds: number;
  notice?: string | undefined;
  error?: string | undefined;
  /** New-socket monitoring's state; absent when it is off. */
  sockets?: ListenerState | undefined;
  listenerCheckSeconds: number;
}

/** The host's managed-security page: what is guarded, the bans in force (each with a lift button), and the recent ones that ended. */
export function renderSecurityPage(host: Host, active: BanRecord[], ended: BanRecord[], ctx: SecurityPageContext): string {
  const body = html`<h1>Managed security: server ${host.id}</h1>
${ctx.error ? html`<div class="error" role="alert">${ctx.error}</div>` : ''}
${ctx.notice ? html`<div class="banner" role="status">${ctx.notice}</div>` : ''}
<h2>Brute-force protection</h2>
<p>A source that opens new connections to these services faster than the rate below (after the burst) is banned from all of your server's public addresses.
Its first ban lasts ${duration(ctx.baseBanSeconds)}; each further ban of the same source twice as long as the one before, at most ${duration(ctx.maxBanSeconds)}.
Our management networks are never banned.</p>
<table>
<tr><th>Service</th><th>Ports</th><th>New connections per minute</th><th>Burst</th></tr>
${ctx.services.map((s) => html`<tr><td>${s.name}</td><td>${s.ports.join(', ')}</td><td>${s.newConnectionsPerMinute}</td><td>${s.burst}</td></tr>`)}
</table>
<h2>Bans in force</h2>
${active.length === 0
    ? html`<p id="no-bans">No source is banned on this server now.</p>`
    : html`<table id="bans">
<tr><th>Source</th><th>Services</th><th>Banned</th><th>Until</th><th>Ban no.</th><th></th></tr>
${active.map(
        (b) => html`<tr data-ban="${b.id}"><td><code>${b.address}</code></td><td>${b.services.join(', ') || '—'}</td><td>${time(b.bannedAt)}</td><td>${time(b.expiresAt)}</td><td>${b.offence}</td>
<td><form method="post" action="${ctx.pagePath}/lift"><input type="hidden" name="csrf" value="${ctx.csrf}"><input type="hidden" name="ban" value="${b.id}"><button type="submit">Lift ban</button></form></td></tr>`,
      )}
</table>
<p>Lifting a ban lets the source in again at once and resets its count: its next ban starts at ${duration(ctx.baseBanSeconds)} again. Each lift is recorded with the time, your address and your browser.</p>`}
${ended.length > 0
    ? html`<h2>Recent bans that ended</h2>
<ul>${ended.map((b) => html`<li><code>${b.address}</code>, banned ${time(b.bannedAt)}: ${b.ended ? (b.ended.how === 'lifted' ? 'lifted on this page' : b.ended.how === 'expired' ? 'ran out' : 'removed on the server') : 'ran out'}</li>`)}</ul>`
    : ''}`;
  return layout(ctx.basePath, `Managed security ${host.id}`, html`${body}${socketsSection(ctx)}`);
}

function socketsSection(ctx: SecurityPageContext) {
  const st = ctx.sockets;
  if (!st || ctx.listenerCheckSeconds === 0) return html``;
  return html`<h2>New listening sockets</h2>
<p>Every ${duration(ctx.listenerCheckSeconds)} your server's agent lists the TCP and UDP sockets listening on its public addresses. What listened when the service began is the baseline; a socket not in it is reported here and by mail.</p>
${!st.baselined
    ? html`<p>The first list has not arrived yet.</p>`
    : st.pending.length === 0
      ? html`<p id="no-new-sockets">No new listening socket: everything matches the baseline (${st.baseline.size} socket${st.baseline.size === 1 ? '' : 's'}).</p>`
      : html`<table id="new-sockets">
<tr><th>Protocol</th><th>Address</th><th>Port</th><th>Process</th><th>Seen</th><th></th></tr>
${st.pending.map(
          (p) => html`<tr data-socket="${p.key}"><td>${p.socket.protocol}</td><td><code>${p.socket.address}</code></td><td>${p.socket.port}</td><td>${p.socket.process ? html`${p.socket.process} (pid ${p.socket.pid})` : 'not known'}</td><td>${time(p.at)}</td>
<td><form method="post" action="${ctx.pagePath}/accept"><input type="hidden" name="csrf" value="${ctx.csrf}"><input type="hidden" name="socket" value="${p.key}"><button type="submit">It is ours: accept</button></form></td></tr>`,
        )}
</table>
<p>If you do not know a socket, a program may have been installed without you: look at it before you accept it. Accepting adds it to the baseline; it is recorded with the time, your address and your browser.</p>`}`;
}
