import type { FastifyInstance } from 'fastify';
import type { Csrf } from '../customer/csrf.js';
import { html } from '../customer/html.js';
import { approvalForms, approvalsView } from './approvalsView.js';
import type { DeskAccess } from './DeskAccess.js';
import { deskLayout } from './deskLayout.js';
import { formField, type DeskReplies } from './deskReplies.js';
import type { DeskHandlers } from './registerDeskRoutes.js';

export interface ApprovalRoutesDeps {
  handlers: Pick<DeskHandlers, 'listApprovals' | 'approve' | 'rejectApproval'>;
  access: DeskAccess;
  csrf: Csrf;
  replies: DeskReplies;
}

const DONE = { granted: 'granted: the action is in force on its hosts', rejected: 'rejected' } as const;

/**
 * GET /approvals and the grant and reject forms: DeskService's
 * ListApprovals, Approve and RejectApproval handlers, admitted under those
 * names. Four eyes (the requester cannot grant their own), expiry and a
 * rejection's reason (required, bounded) are the handler's rules; their
 * refusals are shown in their words. Open pages hear of a decision from the
 * store's commit (Database.onCommit), like any other change.
 */
export function registerApprovalRoutes(app: FastifyInstance, d: ApprovalRoutesDeps): void {
  app.get<{ Querystring: { done?: string; id?: string } }>('/approvals', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/ListApprovals');
      const { approvals } = await d.handlers.listApprovals();
      const nonce = d.replies.nonceFor(request, reply);
      const { done, id } = request.query;
      const notice = typeof done === 'string' && Object.hasOwn(DONE, done) && typeof id === 'string' ? html`<p class="done" id="done">Approval ${id} ${DONE[done as keyof typeof DONE]}.</p>` : undefined;
      const forms = { csrf: d.csrf.field(op.fingerprint, nonce), grant: d.access.may(op, 'DeskService/Approve'), reject: d.access.may(op, 'DeskService/RejectApproval') };
      return reply.type('text/html; charset=utf-8').send(deskLayout('Approvals', op, approvalsView(approvals), { notice, actions: approvalForms(approvals, forms) }));
    } catch (err) {
      return d.replies.refuse(reply, err, '/approvals');
    }
  });

  app.post<{ Params: { id: string } }>('/approvals/:id/grant', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/Approve');
      d.replies.checkForm(request, op, formField(request.body, 'csrf'));
      // The same handler as DeskService/Approve: four eyes, expiry, the grant and its enforcement in one transaction, audited as the operator.
      await d.handlers.approve({ approvalId: request.params.id }, d.access.context(request, op));
      return reply.code(303).header('location', `/approvals?done=granted&id=${encodeURIComponent(request.params.id)}`).send();
    } catch (err) {
      return d.replies.refuse(reply, err, '/approvals');
    }
  });

  app.post<{ Params: { id: string } }>('/approvals/:id/reject', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/RejectApproval');
      d.replies.checkForm(request, op, formField(request.body, 'csrf'));
      // The handler requires the reason and bounds it (and the store keeps it): one rule, the same as over gRPC.
      await d.handlers.rejectApproval({ approvalId: request.params.id, reason: formField(request.body, 'reason') }, d.access.context(request, op));
      return reply.code(303).header('location', `/approvals?done=rejected&id=${encodeURIComponent(request.params.id)}`).send();
    } catch (err) {
      return d.replies.refuse(reply, err, '/approvals');
    }
  });
}
