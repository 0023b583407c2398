import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Decision } from '../../../proto/gen/cordon/v1/desk.js';
import { asCordonError, CordonError } from '../../../proto/runtime/CordonError.js';
import type { Logger } from '../../../proto/runtime/logger.js';
import type { createDeskHandlers } from '../../desk/deskService.js';
import type { IncidentDesk } from '../../desk/incidentDesk.js';
import { MAX_REASON_CHARS } from '../../desk/customerVoiceDesk.js';
import type { Csrf } from '../customer/csrf.js';
import { html } from '../customer/html.js';
import { sameOrigin } from '../customer/routes.js';
import type { DeskAccess, DeskOperator } from './DeskAccess.js';
import type { DeskChanges } from './DeskChanges.js';
import type { DeskEventStreams } from './DeskEventStreams.js';
import { deskLayout, deskMessage } from './deskLayout.js';
import { DESK_STATIC_FILES } from './deskStaticFiles.js';
import { httpStatusOf } from './httpStatusOf.js';
import { decisionForms, DESK_DECISIONS, incidentView, type DeskDecision } from './incidentView.js';
import { queueView } from './queueView.js';

/** The DeskService handlers the pages call: the very functions the gRPC service calls, built once in runController. */
export type DeskHandlers = Pick<IncidentDesk, 'listQueue' | 'getIncident' | 'decideIncident' | 'listApprovals' | 'approve' | 'rejectApproval' | 'verifyAudit' | 'getHost'> &
  Pick<ReturnType<typeof createDeskHandlers>, 'listHosts' | 'listAgents'>;

export interface DeskRoutesDeps {
  handlers: DeskHandlers;
  access: DeskAccess;
  csrf: Csrf;
  changes: DeskChanges;
  streams: DeskEventStreams;
  log: Logger;
}

const HTML = 'text/html; charset=utf-8';
const DECISIONS: Record<DeskDecision, Decision> = {
  verify: Decision.DECISION_VERIFY,
  reject_dispute: Decision.DECISION_REJECT_DISPUTE,
  dismiss: Decision.DECISION_DISMISS,
  release: Decision.DECISION_RELEASE,
};

/**
 * The desk's pages; every decision is a DeskService handler's and every
 * permission DeskAccess' (authorize.ts), this file only speaks HTTP. Each
 * route names the DeskService method it stands for, and is admitted as that
 * method would be over gRPC.
 */
export function registerDeskRoutes(app: FastifyInstance, d: DeskRoutesDeps): void {
  /** The browser's CSRF nonce, set as a cookie when it has none yet. */
  const nonceFor = (request: FastifyRequest, reply: FastifyReply): string => {
    const have = d.csrf.nonceFrom(request.headers.cookie);
    if (have) return have;
    const nonce = d.csrf.newNonce();
    reply.header('set-cookie', d.csrf.cookie(nonce));
    return nonce;
  };
  /** A refusal as the operator reads it: the CordonError's own words, with the field it names; anything unexpected is logged, not shown. */
  const refuse = (reply: FastifyReply, err: unknown, back: string) => {
    const e = asCordonError(err);
    const status = httpStatusOf(e.kind);
    if (status >= 500 && e.kind === 'internal') d.log.error({ err: e.message, stack: e.stack }, 'desk page failed');
    const text = e.kind === 'internal' ? 'Something went wrong on the controller; nothing was changed. The log has the details.' : e.message; // a CordonError's message already leads with its field
    return reply.code(status).type(HTML).send(deskMessage(status === 403 ? 'Not allowed' : 'Refused', text, back));
  };

  app.get('/', async (request, reply) => {
    let op: DeskOperator;
    try {
      op = d.access.admit(request, 'DeskService/ListQueue');
      const queue = await d.handlers.listQueue({ limit: 200 });
      nonceFor(request, reply);
      return reply.type(HTML).send(deskLayout('Queue', op, queueView(queue)));
    } catch (err) {
      return refuse(reply, err, '/');
    }
  });

  app.get<{ Params: { id: string }; Querystring: { done?: string } }>('/incidents/:id', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/GetIncident');
      const detail = await d.handlers.getIncident({ id: request.params.id });
      const nonce = nonceFor(request, reply);
      const done = request.query.done;
      const notice = done && done in DESK_DECISIONS ? html`<p class="done" id="done">${DESK_DECISIONS[done as DeskDecision].label}: done.</p>` : undefined;
      const actions = d.access.may(op, 'DeskService/DecideIncident') ? decisionForms(request.params.id, d.csrf.field(op.fingerprint, nonce)) : undefined;
      return reply.type(HTML).send(deskLayout(`Incident ${request.params.id}`, op, incidentView(detail), { notice, actions }));
    } catch (err) {
      return refuse(reply, err, '/');
    }
  });

  app.post<{ Params: { id: string }; Body: Record<string, unknown> | undefined }>('/incidents/:id/decide', async (request, reply) => {
    const id = request.params.id;
    const back = `/incidents/${encodeURIComponent(id)}`;
    try {
      const op = d.access.admit(request, 'DeskService/DecideIncident');
      const body = request.body ?? {};
      const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
      // A POST the page did not make: another site's form (Origin, Sec-Fetch-Site), or one without this operator's CSRF pair.
      if (!sameOrigin(request, `https://${request.headers.host ?? ''}`)) throw new CordonError('permission', 'the request did not come from the desk\'s own page (Origin or Sec-Fetch-Site); nothing was changed');
      if (!d.csrf.check(op.fingerprint, d.csrf.nonceFrom(request.headers.cookie), field('csrf'))) {
        throw new CordonError('permission', 'the form has expired or did not come from this desk (CSRF check failed); reload the page and try again; nothing was changed');
      }
      const decision = field('decision') as DeskDecision;
      if (!(decision in DECISIONS)) throw new CordonError('invalid', `must be one of ${Object.keys(DECISIONS).join(', ')}`, { field: 'decision' });
      const reason = field('reason');
      if (reason.length > MAX_REASON_CHARS) throw new CordonError('invalid', `at most ${MAX_REASON_CHARS} characters, got ${reason.length}`, { field: 'reason' });
      // The same handler as DeskService/DecideIncident: its checks, its lifecycle, its audit entry under the operator's name.
      await d.handlers.decideIncident({ incidentId: id, decision: DECISIONS[decision], reason }, d.access.context(request, op));
      d.changes.notify();
      return reply.code(303).header('location', `${back}?done=${decision}`).send();
    } catch (err) {
      return refuse(reply, err, back);
    }
  });

  app.get('/events', async (request, reply) => {
    try {
      // Live updates show what the queue shows: the least a desk page needs.
      const op = d.access.admit(request, 'DeskService/ListQueue');
      if (!d.streams.serve(reply, op)) {
        return reply.code(503).header('retry-after', '30').type('text/plain; charset=utf-8').send('too many live-update streams are open; the page still works, reload it to see changes');
      }
      return reply;
    } catch (err) {
      return refuse(reply, err, '/');
    }
  });

  app.get<{ Params: { file: string } }>('/static/:file', async (request, reply) => {
    const f = Object.hasOwn(DESK_STATIC_FILES, request.params.file) ? DESK_STATIC_FILES[request.params.file] : undefined;
    if (!f) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
    return reply.type(f.type).send(f.body);
  });
}
