import type { FastifyInstance } from 'fastify';
import type { DeskAccess } from './DeskAccess.js';
import { deskLayout } from './deskLayout.js';
import { parseAuditFilter, type DeskReads } from './DeskReads.js';
import type { DeskReplies } from './deskReplies.js';
import { auditView } from './auditView.js';
import type { DeskHandlers } from './registerDeskRoutes.js';

export interface AuditRoutesDeps {
  handlers: Pick<DeskHandlers, 'verifyAudit'>;
  reads: Pick<DeskReads, 'listAudit'>;
  access: DeskAccess;
  replies: DeskReplies;
}

/**
 * GET /audit: the chain's verification (DeskService/VerifyAudit's handler)
 * and the entries by filter. DeskService has no call that lists the log, so
 * the read is DeskReads', gated by VerifyAudit's role: whoever may check the
 * chain may read what it holds.
 */
export function registerAuditRoutes(app: FastifyInstance, d: AuditRoutesDeps): void {
  app.get<{ Querystring: Record<string, unknown> }>('/audit', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/VerifyAudit');
      const filter = parseAuditFilter(request.query);
      const verified = await d.handlers.verifyAudit();
      const entries = await d.reads.listAudit(filter);
      return reply.type('text/html; charset=utf-8').send(deskLayout('Audit', op, auditView(verified, filter, entries)));
    } catch (err) {
      return d.replies.refuse(reply, err, '/audit');
    }
  });
}
