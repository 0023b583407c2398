import type { TLSSocket } from 'node:tls';
import { constants as cryptoConstants, randomBytes } from 'node:crypto';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { parseAddress } from '../../../proto/runtime/address.js';
import type { Logger } from '../../../proto/runtime/logger.js';
import { RevocationList } from '../../agents/RevocationList.js';
import { Csrf } from '../customer/csrf.js';
import { DeskAccess } from './DeskAccess.js';
import type { DeskChanges } from './DeskChanges.js';
import { DeskEventStreams } from './DeskEventStreams.js';
import { deskMessage } from './deskLayout.js';
import type { DeskWebSettings } from './deskWebSettings.js';
import { registerDeskRoutes, type DeskHandlers } from './registerDeskRoutes.js';
import type { DeskReads } from './DeskReads.js';
import { createDeskReplies } from './deskReplies.js';
import { registerApprovalRoutes } from './registerApprovalRoutes.js';
import { registerAuditRoutes } from './registerAuditRoutes.js';
import { registerHealthRoutes } from './registerHealthRoutes.js';
import { registerHostRoutes, type FleetReads } from './registerHostRoutes.js';
import { registerIncidentRoutes } from './registerIncidentRoutes.js';

/** Headers on every response: nothing but the desk's own files, no framing, no caching, no referrer. `connect-src 'self'` is for the live updates. */
export const DESK_SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'strict-transport-security': 'max-age=31536000',
};

/** A form holds one reason of at most MAX_REASON_CHARS (UTF-8, url-encoded) and a few short fields. */
const BODY_LIMIT = 64 * 1024;

export interface DeskWebDeps {
  settings: DeskWebSettings;
  handlers: DeskHandlers;
  /** What the pages read that DeskService has no call for: the audit log by filter, the desk's health. */
  reads: DeskReads;
  /** `tls.revokedSerialsFile`: the list DeskService checks, re-read on change. */
  revokedSerialsFile: string;
  changes: DeskChanges;
  /** The fleet page's batched host reads and the agents' drift counts. */
  fleet: FleetReads;
  log: Logger;
}

export interface DeskWeb {
  /** The bound port (listen port 0 picks one). */
  port: number;
  app: FastifyInstance;
  streams: DeskEventStreams;
  close(): Promise<void>;
}

/**
 * Starts the desk in the browser: HTTPS that demands a client certificate
 * from the Cordon CA in the handshake (no certificate, or another CA's: no
 * connection), then per request the identity and role from it, exactly as
 * DeskService reads them. Fastify's logger stays off; failures are logged by
 * the error handler with the component's logger.
 */
export async function startDeskWeb(d: DeskWebDeps): Promise<DeskWeb> {
  const s = d.settings;
  const options = {
    logger: false,
    // No session tickets: every connection shows its certificate in a full handshake (as the agent listener),
    // so the operator is always the certificate of this connection, never one a resumed session carries over.
    https: { cert: s.tls.cert, key: s.tls.key, ca: s.tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', secureOptions: cryptoConstants.SSL_OP_NO_TICKET },
    bodyLimit: BODY_LIMIT,
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    forceCloseConnections: true,
  };
  const app = Fastify(options as never) as unknown as FastifyInstance;
  // A connection's certificate is its operator for its whole life (DeskAccess reads it once): no TLS 1.2 renegotiation may swap it.
  app.server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
  await app.register(formbody, { bodyLimit: BODY_LIMIT });
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(DESK_SECURITY_HEADERS)) if (!reply.hasHeader(name)) reply.header(name, value);
    return payload;
  });
  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) d.log.error({ method: request.method, path: request.url, err: err.message, stack: err.stack }, 'desk page failed');
    const text = status === 413 ? `The form is larger than the desk accepts (${BODY_LIMIT} bytes); nothing was changed.` : status === 500 ? 'Something went wrong on the controller; nothing was changed. The log has the details.' : 'The request could not be read; nothing was changed.';
    return reply.code(status).type('text/html; charset=utf-8').send(deskMessage(status === 500 ? 'Error' : 'Request refused', text, '/'));
  });
  const access = new DeskAccess(new RevocationList(d.revokedSerialsFile));
  const streams = new DeskEventStreams(d.changes, access, s.maxEventClients, DESK_SECURITY_HEADERS);
  // The CSRF key lives as long as the process: a restart only makes open forms ask for a reload.
  const csrf = new Csrf(randomBytes(32), '/', true);
  const replies = createDeskReplies(csrf, d.log);
  registerDeskRoutes(app, { handlers: d.handlers, access, replies, streams, changes: d.changes });
  registerIncidentRoutes(app, { handlers: d.handlers, access, csrf, replies, changes: d.changes });
  registerApprovalRoutes(app, { handlers: d.handlers, access, csrf, replies });
  registerAuditRoutes(app, { handlers: d.handlers, reads: d.reads, access, replies });
  registerHealthRoutes(app, { reads: d.reads, access, replies });
  registerHostRoutes(app, { handlers: d.handlers, fleet: d.fleet, access, csrf, replies });
  const { host, port } = parseAddress(s.listen);
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new CordonError('transient', `cannot listen on ${s.listen}: ${(err as Error).message}`, { field: 'web.desk.listen', cause: err });
  }
  const bound = app.server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  d.log.info({ port: boundPort }, 'desk listening (mutual TLS, operator certificates)');
  return {
    port: boundPort,
    app,
    streams,
    async close() {
      streams.closeAll();
      await app.close();
    },
  };
}
