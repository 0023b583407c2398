import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { parseAddress } from '../../../proto/runtime/address.js';
import type { Logger } from '../../../proto/runtime/logger.js';
import type { Clock } from '../../clock.js';
import { PAGE_PREFIX, type CustomerLinks } from '../../customer/CustomerLinks.js';
import type { CustomerVoice } from '../../customer/CustomerVoice.js';
import { BadTokenLimiter } from './BadTokenLimiter.js';
import { Csrf } from './csrf.js';
import type { CustomerWebSettings } from './customerWebSettings.js';
import { messagePage } from './layout.js';
import { MAX_FIELD_BYTES } from './readAnswerBody.js';
import { redactPath, registerCustomerRoutes } from './routes.js';
import { registerSecurityRoutes } from './securityRoutes.js';
import type { ManagedSecurityPolicies } from '../../security/ManagedSecurityPolicies.js';
import type { ManagedSecuritySettings } from '../../security/managedSecuritySettings.js';
import { SECURITY_PREFIX, type SecurityPages } from '../../security/SecurityPages.js';

/** Headers on every response: the token is in the URL, so no referrer leaves the page, nothing is cached, nothing frames it. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
};

export interface CustomerWebDeps {
  settings: CustomerWebSettings;
  links: CustomerLinks;
  voice: CustomerVoice;
  clock: Clock;
  log: Logger;
  /** Managed security's page (`/s/<token>`): the host's bans and the customer's lifts; absent when no host took it. */
  security?: { pages: SecurityPages; policies: ManagedSecurityPolicies; settings: ManagedSecuritySettings } | undefined;
}

export interface CustomerWeb {
  /** The bound port (listen port 0 picks one). */
  port: number;
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Starts the customer page (fastify): HTTPS with its own certificate, or
 * plain HTTP on loopback behind a TLS proxy (customerWebSettings refuses
 * anything else). Fastify's own logger stays off: it would write each URL,
 * and a URL here carries a token; errors are logged with the token cut out.
 */
export async function startCustomerWeb(d: CustomerWebDeps): Promise<CustomerWeb> {
  const s = d.settings;
  const publicUrl = new URL(s.publicUrl);
  const options = {
    logger: false,
    ...(s.tls ? { https: { cert: s.tls.cert, key: s.tls.key, minVersion: 'TLSv1.2' } } : {}),
    trustProxy: s.trustProxy.length > 0 ? s.trustProxy : false,
    // Urlencoded answers only; a multipart body is bounded by readAnswerBody's limits instead.
    bodyLimit: 2 * MAX_FIELD_BYTES,
    // A slow client cannot hold a socket for ever (upload of the largest files on a slow line included).
    requestTimeout: 120_000,
    connectionTimeout: 130_000,
    keepAliveTimeout: 5_000,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  };
  const app = Fastify(options as never) as unknown as FastifyInstance;
  const secure = s.tls !== undefined || publicUrl.protocol === 'https:';
  const basePath = publicUrl.pathname.replace(/\/+$/, '');
  await app.register(formbody, { bodyLimit: 2 * MAX_FIELD_BYTES });
  await app.register(multipart, { throwFileSizeLimit: true });
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) if (!reply.hasHeader(name)) reply.header(name, value);
    return payload;
  });
  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) d.log.error({ method: request.method, path: redactPath(request.url), err: err.message, stack: err.stack }, 'customer page failed');
    const text =
      status === 413
        ? 'The request is larger than the page accepts; nothing was recorded.'
        : status === 500
          ? 'Something went wrong on our side; nothing was recorded. Please try again later or reply to our mail.'
          : 'The request could not be read; nothing was recorded.';
    return reply.code(status).type('text/html; charset=utf-8').send(messagePage(basePath, status === 500 ? 'Error' : 'Request refused', text));
  });
  // One allowance per source for both kinds of link: a prober guessing tokens gets no more by trying /s/ as well as /c/.
  const limiter = new BadTokenLimiter(s.badTokensPerMinute);
  registerCustomerRoutes(app, {
    links: d.links,
    voice: d.voice,
    csrf: new Csrf(d.links.settings.secret, `${basePath}${PAGE_PREFIX}`, secure),
    limiter,
    clock: d.clock,
    log: d.log,
    publicUrl: s.publicUrl,
    maxFiles: s.maxFiles,
    maxFileBytes: s.maxFileBytes,
  });
  if (d.security) {
    registerSecurityRoutes(app, {
      ...d.security,
      csrf: new Csrf(d.links.settings.secret, `${basePath}${SECURITY_PREFIX}`, secure),
      limiter,
      clock: d.clock,
      log: d.log,
      publicUrl: s.publicUrl,
    });
  }
  const { host, port } = parseAddress(s.listen);
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new CordonError('transient', `cannot listen on ${s.listen}: ${(err as Error).message}`, { field: 'web.customer.listen', cause: err });
  }
  const bound = app.server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  d.log.info({ port: boundPort, tls: s.tls !== undefined, publicUrl: s.publicUrl }, 'customer page listening');
  return { port: boundPort, app, close: () => app.close() };
}
