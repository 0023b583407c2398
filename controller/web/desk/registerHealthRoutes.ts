import type { FastifyInstance } from 'fastify';
import type { DeskAccess } from './DeskAccess.js';
import { deskLayout } from './deskLayout.js';
import type { DeskReads } from './DeskReads.js';
import type { DeskReplies } from './deskReplies.js';
import { healthView } from './healthView.js';

export interface HealthRoutesDeps {
  reads: Pick<DeskReads, 'health'>;
  access: DeskAccess;
  replies: DeskReplies;
}

/**
 * GET /health: the desk's health for anyone on the desk. DeskService has no
 * call for it; it counts what the queue and incident lists already show a
 * viewer, so it is admitted under ListQueue's role.
 */
export function registerHealthRoutes(app: FastifyInstance, d: HealthRoutesDeps): void {
  app.get('/health', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/ListQueue');
      return reply.type('text/html; charset=utf-8').send(deskLayout('Health', op, healthView(await d.reads.health())));
    } catch (err) {
      return d.replies.refuse(reply, err, '/');
    }
  });
}
