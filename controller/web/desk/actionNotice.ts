import type { Incident } from '../../../proto/gen/cordon/v1/desk.js';
import { html, type SafeHtml } from '../customer/html.js';
import { DESK_DECISIONS, type DeskDecision } from './incidentForms.js';

/** An approval id as Enforce makes them; anything else in the query is ignored, never echoed. */
const APPROVAL_ID = /^apr-[0-9a-f]{8}$/;

/**
 * What the operator's last action did, shown once after its redirect
 * (`?done=…`). For an enforcement, what came of it in words: in force,
 * needing a second operator's approval, or held pending the BMC. Only known
 * values are read from the query, so a crafted link cannot put words on the
 * page.
 */
export function actionNotice(query: { done?: unknown; approval?: unknown }, i: Incident): SafeHtml | undefined {
  const done = typeof query.done === 'string' ? query.done : '';
  const say = (text: SafeHtml | string) => html`<p class="done" id="done">${text}</p>`;
  if (Object.hasOwn(DESK_DECISIONS, done)) return say(`${DESK_DECISIONS[done as DeskDecision].label}: done.`);
  if (done === 'answer') return say("Answer recorded on the customer's behalf.");
  if (done !== 'enforce') return undefined;
  const approval = typeof query.approval === 'string' && APPROVAL_ID.test(query.approval) ? query.approval : undefined;
  if (approval) {
    return say(html`Enforce: needs approval. Nothing is enforced until a second operator grants approval ${approval} on the <a href="/approvals">Approvals</a> page.`);
  }
  if (i.hold === 'bmc_unreachable') {
    return say(`Enforce: held pending BMC. The cut (${i.pendingAction || 'the action'}) waits until the host's BMC answers a check, or an operator overrides the check with a reason.`);
  }
  return say("Enforce: done. The host's agent is sent the new desired state; the enforcement section shows when it reports it applied.");
}
