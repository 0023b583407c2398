import type { HostSecurity } from '../../security/ManagedSecurityPolicies.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';

export type { HostSecurity };

/**
 * The host page's managed-security section. Read-only: bans are lifted and
 * sockets accepted by the customer on their page (the controller honours
 * only those lifts), so the desk shows what the customer sees, no forms.
 * The addresses are the attackers' and the process names the customer's
 * server's: shown as text, never run.
 */
export function securitySection(s: HostSecurity | undefined): SafeHtml | string {
  if (!s) return '';
  if (!s.covered) {
    return html`<section id="managed-security"><h2>Managed security</h2><p class="empty">Not taken for this host (controller config <code>managedSecurity.hosts</code> or <code>managedSecurity.customers</code>).</p></section>`;
  }
  return html`<section id="managed-security"><h2>Managed security</h2>
<p>Brute-force bans and new listening sockets, as the host's agent reported them. The customer lifts bans and accepts sockets on their own page.</p>
<h3>Bans in force</h3>
${s.bans.length === 0
    ? html`<p class="empty" id="no-bans">None.</p>`
    : html`<table class="bans"><thead><tr><th>Source</th><th>Services</th><th>Banned</th><th>Until</th><th>Offence</th></tr></thead><tbody>
${s.bans.map((b) => html`<tr data-ban="${b.id}"><td>${b.address}</td><td>${b.services.join(', ') || '—'}</td><td>${when(b.bannedAt)}</td><td>${when(b.expiresAt)}</td><td>${String(b.offence)} (${String(b.seconds)} s)</td></tr>`)}
</tbody></table>`}
<h3>New listening sockets not accepted</h3>
${s.pendingSockets.length === 0
    ? html`<p class="empty" id="no-new-sockets">None.</p>`
    : html`<table class="sockets"><thead><tr><th>Protocol</th><th>Address and port</th><th>Process</th><th>Reported</th></tr></thead><tbody>
${s.pendingSockets.map((p) => html`<tr data-socket="${p.socket.protocol} ${p.socket.address}:${String(p.socket.port)}"><td>${p.socket.protocol}</td><td>${p.socket.address}:${String(p.socket.port)}</td><td>${p.socket.process ? html`${p.socket.process}${p.socket.pid ? ` (pid ${p.socket.pid})` : ''}` : 'not known'}</td><td>${when(p.at)}</td></tr>`)}
</tbody></table>`}
</section>`;
}
