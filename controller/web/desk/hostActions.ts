import type { Host } from '../../../proto/gen/cordon/v1/desk.js';
import { html, type SafeHtml } from '../customer/html.js';

/** Which host actions the operator may call (DeskAccess.may): a form appears only for those. */
export interface HostPermissions {
  checkBmc: boolean;
}

/**
 * The actions a role allows on one host: today "Check the BMC now"
 * (DeskService/CheckBmc, technician and up). Offered only when a BMC is on
 * file: without one the handler would only record an unreachable check
 * saying so, which tells the operator nothing the page does not already.
 * The server refuses a forged POST all the same.
 */
export function hostActions(h: Host, may: HostPermissions, csrf: string): SafeHtml | undefined {
  if (!may.checkBmc) return undefined;
  const body = h.bmc
    ? html`<form method="post" action="/hosts/${encodeURIComponent(h.id)}/check-bmc" id="form-check-bmc" class="decide">
<input type="hidden" name="csrf" value="${csrf}">
<p>Ask ${h.bmc.address} over IPMI whether it answers${h.bmc.sol ? ' and whether Serial-over-LAN is enabled' : ''}, now. The result is recorded as the host's last BMC check, and any cut held pending the BMC goes ahead if it answers.</p>
<button type="submit">Check the BMC now</button>
</form>`
    : html`<p class="empty" id="no-bmc">No BMC is on file for this host, so there is nothing to check; an admin binds one (SetHostBmc).</p>`;
  return html`<section class="actions" id="actions">
<h2>Act</h2>
${body}
</section>`;
}

/**
 * What the last action did, after its redirect. Only `?checked=1` is read
 * and no value is echoed, so a crafted link cannot put words on the page;
 * the result itself is re-read from the store (GetHost's last_bmc_check).
 */
export function hostNotice(query: { checked?: unknown }): SafeHtml | undefined {
  if (query.checked !== '1') return undefined;
  return html`<p class="done" id="done">BMC checked just now: see <a href="#bmc-check">Last BMC check</a>.</p>`;
}
