import type { FastifyInstance } from 'fastify';
import type { createDeskHandlers } from '../../desk/deskService.js';
import type { IncidentDesk } from '../../desk/incidentDesk.js';
import type { DeskAccess } from './DeskAccess.js';
import type { DeskChanges } from './DeskChanges.js';
import type { DeskEventStreams } from './DeskEventStreams.js';
import { deskLayout } from './deskLayout.js';
import type { DeskReplies } from './deskReplies.js';
import { DESK_STATIC_FILES } from './deskStaticFiles.js';
import { queueView } from './queueView.js';
import { LatestRead } from './LatestRead.js';

/** The DeskService handlers the pages call: the very functions the gRPC service calls, built once in runController. */
export type DeskHandlers = Pick<
  IncidentDesk,
  | 'listQueue'
  | 'countQueue'
  | 'getIncident'
  | 'decideIncident'
  | 'answerIncident'
  | 'enforce'
  | 'getComplaintRaw'
  | 'getCustomerFile'
  | 'getClock'
  | 'listApprovals'
  | 'approve'
  | 'rejectApproval'
  | 'verifyAudit'
  | 'getHost'
  | 'checkBmc'
> &
  Pick<ReturnType<typeof createDeskHandlers>, 'listHosts' | 'listAgents'>;

export interface DeskRoutesDeps {
  handlers: DeskHandlers;
  access: DeskAccess;
  replies: DeskReplies;
  streams: DeskEventStreams;
  /** Its version says when the queue read last must be read again. */
  changes: Pick<DeskChanges, 'version'>;
}

/** How many entries the queue's page shows; the counts say how many more wait. */
const QUEUE_PAGE = 200;
const HTML = 'text/html; charset=utf-8';

/**
 * The desk's queue, its live-update stream and its static files; the
 * incident page and its actions are registerIncidentRoutes'. Every decision
 * is a DeskService handler's and every permission DeskAccess'
 * (authorize.ts); this file only speaks HTTP. Each route names the
 * DeskService method it stands for, and is admitted as that method would be
 * over gRPC.
 */
export function registerDeskRoutes(app: FastifyInstance, d: DeskRoutesDeps): void {
  // The first 200 and how many wait in all, per reason (the page says what it leaves out), read once per change for every open desk.
  const queue = new LatestRead(d.changes, () => Promise.all([d.handlers.listQueue({ limit: QUEUE_PAGE }), d.handlers.countQueue()]));
  app.get('/', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/ListQueue');
      const [entries, counts] = await queue.get();
      d.replies.nonceFor(request, reply);
      return reply.type(HTML).send(deskLayout('Queue', op, queueView(entries, counts)));
    } catch (err) {
      return d.replies.refuse(reply, err, '/');
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
      return d.replies.refuse(reply, err, '/');
    }
  });

  app.get<{ Params: { file: string } }>('/static/:file', async (request, reply) => {
    const f = Object.hasOwn(DESK_STATIC_FILES, request.params.file) ? DESK_STATIC_FILES[request.params.file] : undefined;
    if (!f) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
    return reply.type(f.type).send(f.body);
  });
}
