import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import { parseAddress } from '../../proto/runtime/address.js';
import type { Logger } from '../../proto/runtime/logger.js';
import { BadTokenLimiter } from '../web/customer/BadTokenLimiter.js';
import type { AlertIntake } from './AlertIntake.js';
import { ALERT_SOURCE_KINDS, type AlertSource, type AlertSourceKind, type AlertsSettings } from './alertsSettings.js';
import { authenticateSource } from './authenticateSource.js';

/** The largest body accepted: a CrowdSec batch of alerts with their events, a FastNetMon notice with its details. */
export const MAX_ALERT_BODY_BYTES = 1024 * 1024;
/** Posts with a missing or wrong token one address may make per minute before it gets 429. */
const BAD_TOKENS_PER_MINUTE = 10;

export interface AlertsListener {
  /** The bound port (listen port 0 picks one). */
  port: number;
  app: FastifyInstance;
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    alertSource?: AlertSource;
  }
}

const refuse = (reply: FastifyReply, status: number, error: string) => reply.code(status).send({ error });

/**
 * Starts the alerts listener (fastify): `POST /alerts/crowdsec` and
 * `POST /alerts/fastnetmon`, each for the sources of its kind, with
 * `Authorization: Bearer <the source's token>`. The token is checked before
 * the body is read; a refusal (401 no or wrong token, 403 another kind's
 * route, 429 too many wrong tokens) stores nothing and is logged with the
 * peer's address. Bodies: JSON only (415 otherwise), at most 1 MiB (413),
 * checked whole (400 naming the field) before anything is filed; 202 with
 * what each alert became. HTTPS with the controller's certificate, or
 * plain HTTP on the management network (alertsSettings).
 */
export async function startAlertsListener(settings: AlertsSettings, intake: AlertIntake, log: Logger): Promise<AlertsListener> {
  const app = Fastify({
    logger: false,
    ...(settings.tls ? { https: { cert: settings.tls.cert, key: settings.tls.key, minVersion: 'TLSv1.2' } } : {}),
    bodyLimit: MAX_ALERT_BODY_BYTES,
    requestTimeout: 30_000,
    connectionTimeout: 35_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  } as never) as unknown as FastifyInstance;
  app.removeContentTypeParser('text/plain');
  const limiter = new BadTokenLimiter(BAD_TOKENS_PER_MINUTE);

  const authenticate = (kind: AlertSourceKind) => async (request: FastifyRequest, reply: FastifyReply) => {
    const from = request.ip;
    const wait = limiter.retryAfter(from);
    if (wait > 0) {
      log.warn({ from, route: kind }, 'alert refused: too many wrong tokens from this address');
      return refuse(reply.header('retry-after', String(wait)), 429, 'too many requests with a wrong token; try later');
    }
    const found = authenticateSource(request.headers.authorization, settings.sources);
    if (found === 'missing' || found === 'wrong') {
      limiter.miss(from);
      log.warn({ from, route: kind }, `alert refused: ${found === 'missing' ? 'no bearer token' : 'a token no source has'}`);
      return refuse(reply.header('www-authenticate', 'Bearer'), 401, found === 'missing' ? 'an Authorization: Bearer token is required' : 'the token is not valid');
    }
    if (found.kind !== kind) {
      log.warn({ from, route: kind, source: found.id, sourceKind: found.kind }, 'alert refused: the source posted to another kind\'s route');
      return refuse(reply, 403, `source ${found.id} is a ${found.kind} source: post to /alerts/${found.kind}`);
    }
    request.alertSource = found;
  };

  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const from = request.ip;
    if (isCordonError(err, 'invalid')) {
      log.warn({ from, source: request.alertSource?.id, field: err.field, err: err.message }, 'alert refused: invalid body');
      return reply.code(400).send({ error: err.message, field: err.field });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      log.warn({ from, source: request.alertSource?.id, status: err.statusCode, err: err.message }, 'alert refused');
      const text = err.statusCode === 413 ? `the body is larger than ${MAX_ALERT_BODY_BYTES} bytes` : err.statusCode === 415 ? 'the body must be JSON (Content-Type: application/json)' : err.message;
      return reply.code(err.statusCode).send({ error: text });
    }
    const transient = isCordonError(err, 'transient');
    log.error({ from, source: request.alertSource?.id, err: err.message, stack: transient ? undefined : err.stack }, 'alert not filed: the controller failed');
    return reply.code(transient ? 503 : 500).send({ error: transient ? 'the store is busy; send again later' : 'the controller failed; nothing more was filed' });
  });

  for (const kind of ALERT_SOURCE_KINDS) {
    app.post(`/alerts/${kind}`, { onRequest: authenticate(kind) }, async (request, reply) => {
      const source = request.alertSource!;
      const answer = source.kind === 'crowdsec' ? await intake.crowdsec({ ...source, kind: 'crowdsec' }, request.body) : await intake.fastnetmon({ ...source, kind: 'fastnetmon' }, request.body);
      return reply.code(202).send(answer);
    });
  }
  app.setNotFoundHandler(async (_request, reply) => refuse(reply, 404, 'no such route: POST /alerts/crowdsec or /alerts/fastnetmon'));

  const { host, port } = parseAddress(settings.listen);
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new CordonError('transient', `cannot listen on ${settings.listen}: ${(err as Error).message}`, { field: 'alerts.listen', cause: err });
  }
  const bound = app.server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  log.info({ port: boundPort, tls: settings.tls !== undefined, sources: settings.sources.map((s) => `${s.kind}:${s.id}`) }, 'alerts listener listening');
  if (!settings.tls) log.warn('alerts listener on plain HTTP: keep it on the management network (tokens cross it in clear text)');
  return { port: boundPort, app, close: () => app.close() };
}
