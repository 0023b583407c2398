import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import type { Csrf } from '../customer/csrf.js';
import type { DeskAccess, DeskOperator } from './DeskAccess.js';
import type { DeskChanges } from './DeskChanges.js';
import { deskLayout } from './deskLayout.js';
import { formField, type DeskReplies } from './deskReplies.js';
import { deskTimeOf } from './deskTime.js';
import { actionForms } from './actionForms.js';
import { actionNotice } from './actionNotice.js';
import { parseAnswerForm, parseDecideForm, parseEnforceForm } from './incidentForms.js';
import { incidentView } from './incidentView.js';
import type { DeskHandlers } from './registerDeskRoutes.js';

export interface IncidentRoutesDeps {
  handlers: Pick<DeskHandlers, 'getIncident' | 'getClock' | 'decideIncident' | 'answerIncident' | 'enforce' | 'getComplaintRaw' | 'getCustomerFile'>;
  access: DeskAccess;
  csrf: Csrf;
  replies: DeskReplies;
  changes: DeskChanges;
}

type Params = { id: string };
type Act = (request: FastifyRequest<{ Params: Params }>, op: DeskOperator) => Promise<string>;

/**
 * `Content-Disposition: attachment` for a customer's file: an ASCII stand-in
 * (quotes, slashes, controls replaced) and the real name per RFC 5987, so no
 * file name can end the header or choose a path.
 */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 100) || 'file';
  const utf8 = encodeURIComponent(filename.slice(0, 200)).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}

/**
 * The incident page and its actions. Each route is admitted as the
 * DeskService method it calls (DeskAccess, authorize.ts), each POST must
 * come from the desk's own page with this operator's CSRF pair
 * (DeskReplies.checkForm, checked after the role, as over gRPC), and each
 * calls the very handler DeskService calls, with a CallContext naming the
 * operator, so the history and the audit log name them. This file only
 * speaks HTTP: forms are read by incidentForms, pages drawn by the views.
 */
export function registerIncidentRoutes(app: FastifyInstance, d: IncidentRoutesDeps): void {
  const pageOf = (id: string) => `/incidents/${encodeURIComponent(id)}`;

  app.get<{ Params: Params; Querystring: Record<string, unknown> }>('/incidents/:id', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/GetIncident');
      const [detail, clock] = await Promise.all([d.handlers.getIncident({ id: request.params.id }), d.handlers.getClock()]);
      const t = deskTimeOf(clock);
      const nonce = d.replies.nonceFor(request, reply);
      const i = detail.incident!;
      const may = (method: string) => d.access.may(op, `DeskService/${method}`);
      const actions = actionForms(i, { answer: may('AnswerIncident'), decide: may('DecideIncident'), enforce: may('Enforce') }, d.csrf.field(op.fingerprint, nonce), t);
      const live = incidentView(detail, t, { raw: may('GetComplaintRaw'), files: may('GetCustomerFile') });
      return reply.type('text/html; charset=utf-8').send(deskLayout(`Incident ${i.id}`, op, live, { notice: actionNotice(request.query, i), actions }));
    } catch (err) {
      return d.replies.refuse(reply, err, '/');
    }
  });

  /** One action: admitted as `method`, then the form's origin and CSRF pair, then the handler; 303 back to the incident with what was done. */
  const post = (verb: string, method: string, act: Act) =>
    app.post<{ Params: Params }>(`/incidents/:id/${verb}`, async (request, reply) => {
      const back = pageOf(request.params.id);
      try {
        const op = d.access.admit(request, `DeskService/${method}`);
        d.replies.checkForm(request, op, formField(request.body, 'csrf'));
        const query = await act(request, op);
        d.changes.notify();
        return reply.code(303).header('location', `${back}?${query}`).send();
      } catch (err) {
        return d.replies.refuse(reply, err, back);
      }
    });

  post('decide', 'DecideIncident', async (request, op) => {
    const f = parseDecideForm(request.body);
    await d.handlers.decideIncident({ incidentId: request.params.id, decision: f.value, reason: f.reason }, d.access.context(request, op));
    return `done=${f.decision}`;
  });

  post('answer', 'AnswerIncident', async (request, op) => {
    const f = parseAnswerForm(request.body);
    await d.handlers.answerIncident({ incidentId: request.params.id, answer: f.value, planDueAt: f.planDueAt, note: f.note }, d.access.context(request, op));
    return 'done=answer';
  });

  post('enforce', 'Enforce', async (request, op) => {
    const f = parseEnforceForm(request.body);
    const r = await d.handlers.enforce({ incidentId: request.params.id, hostIds: [], customerId: '', action: f.enforcement, reason: f.reason }, d.access.context(request, op));
    return r.approvalId ? `done=enforce&approval=${encodeURIComponent(r.approvalId)}` : 'done=enforce';
  });

  app.get<{ Params: Params & { cid: string } }>('/incidents/:id/complaints/:cid/raw', async (request, reply) => {
    try {
      d.access.admit(request, 'DeskService/GetComplaintRaw');
      const r = await d.handlers.getComplaintRaw({ complaintId: request.params.cid });
      if (r.incidentId !== request.params.id) throw new CordonError('not_found', `incident ${request.params.id} has no complaint ${request.params.cid}`, { field: 'complaintId' });
      // Text, never markup: the report is the reporter's (or an attacker's) bytes. nosniff comes with every desk response.
      return reply
        .type('text/plain; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('content-disposition', `inline; filename="${request.params.cid.replace(/[^A-Za-z0-9._-]/g, '_')}.txt"`)
        .send(r.raw);
    } catch (err) {
      return d.replies.refuse(reply, err, pageOf(request.params.id));
    }
  });

  app.get<{ Params: Params & { fid: string } }>('/incidents/:id/files/:fid', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/GetCustomerFile');
      // The handler audits the read under the operator's name.
      const f = await d.handlers.getCustomerFile({ incidentId: request.params.id, fileId: request.params.fid }, d.access.context(request, op));
      return reply
        .type('application/octet-stream')
        .header('content-disposition', attachmentDisposition(f.filename))
        .header('content-security-policy', "default-src 'none'; sandbox")
        .send(f.content);
    } catch (err) {
      return d.replies.refuse(reply, err, pageOf(request.params.id));
    }
  });
}
