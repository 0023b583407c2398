import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isCordonError } from '../../../proto/runtime/CordonError.js';
import type { Logger } from '../../../proto/runtime/logger.js';
import type { Clock } from '../../clock.js';
import { PAGE_PREFIX, type CustomerLinks } from '../../customer/CustomerLinks.js';
import { CustomerVoice } from '../../customer/CustomerVoice.js';
import type { Incident } from '../../incidents/model.js';
import type { CustomerLink } from '../../store/CustomerLinksRepo.js';
import type { BadTokenLimiter } from './BadTokenLimiter.js';
import type { Csrf } from './csrf.js';
import { messagePage, notFoundPage } from './layout.js';
import { renderIncidentPage, type PageContext } from './pageView.js';
import { BodyRefused, formatBytes, readAnswerBody } from './readAnswerBody.js';
import { STATIC_FILES } from './staticFiles.js';

export interface CustomerRoutesDeps {
  links: CustomerLinks;
  voice: CustomerVoice;
  csrf: Csrf;
  limiter: BadTokenLimiter;
  clock: Clock;
  log: Logger;
  /** `web.customer.publicUrl`, without a trailing slash. */
  publicUrl: string;
  maxFiles: number;
  maxFileBytes: number;
}

const HTML = 'text/html; charset=utf-8';

/** A request path with any token cut out, for logs: a token in a log file opens a customer's page. */
export function redactPath(url: string): string {
  return url.replace(/\/c\/[^/?#]*/, '/c/…');
}

/**
 * Whether a POST comes from the page itself, as far as the browser says.
 * `Origin: null` is what a browser sends for a form POST from a page with
 * Referrer-Policy no-referrer (Fetch: "append a request Origin header"), so
 * it says nothing either way; then Sec-Fetch-Site, which every current
 * browser sends, decides. Neither header: an old browser or a script, left
 * to the CSRF pair.
 */
export function sameOrigin(request: FastifyRequest, origin: string): boolean {
  const o = request.headers.origin;
  if (o !== undefined && o !== 'null' && o !== origin) return false;
  const site = request.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}

/**
 * The customer page's routes; every decision is CustomerVoice's or
 * CustomerLinks', this file only speaks HTTP. Paths and form fields are a
 * contract (the notice mails link them, tests and the lab post to them).
 */
export function registerCustomerRoutes(app: FastifyInstance, d: CustomerRoutesDeps): void {
  const publicUrl = new URL(d.publicUrl);
  const basePath = publicUrl.pathname.replace(/\/+$/, '');
  const notFound = notFoundPage(basePath);
  const filesNote = `${d.maxFiles} file${d.maxFiles === 1 ? '' : 's'} of at most ${formatBytes(d.maxFileBytes)} each`;
  const pagePath = (token: string) => `${basePath}${PAGE_PREFIX}${token}`;

  /** The link and incident of a token route, or undefined once the reply (429 or the one 404) is sent. */
  const open = async (request: FastifyRequest, reply: FastifyReply, token: string): Promise<{ link: CustomerLink; incident: Incident } | undefined> => {
    const wait = d.limiter.retryAfter(request.ip);
    if (wait > 0) {
      await reply.code(429).header('retry-after', String(wait)).type(HTML).send(messagePage(basePath, 'Too many wrong links', `Too many requests with links that open nothing came from your address. Please wait ${wait} seconds and use the link from the latest mail.`));
      return undefined;
    }
    const found = await d.links.resolve(token, d.clock.now());
    if (!found) await missed(request, reply);
    return found;
  };
  const missed = async (request: FastifyRequest, reply: FastifyReply) => {
    d.limiter.miss(request.ip);
    await reply.code(404).type(HTML).send(notFound);
  };

  const render = async (
    reply: FastifyReply,
    request: FastifyRequest,
    found: { link: CustomerLink; incident: Incident },
    token: string,
    status: number,
    extra: Pick<PageContext, 'error' | 'draft'> = {},
  ) => {
    let nonce = d.csrf.nonceFrom(request.headers.cookie);
    if (!nonce) {
      nonce = d.csrf.newNonce();
      reply.header('set-cookie', d.csrf.cookie(nonce));
    }
    // After a refused answer, read again: a 409 must show the state that refused it.
    const incident = status === 200 ? found.incident : ((await d.voice.incident(found.incident.id)) ?? found.incident);
    const facts = await d.voice.page(incident);
    const page = renderIncidentPage(facts, { basePath, pagePath: pagePath(token), csrf: d.csrf.field(found.link.id, nonce), submission: CustomerVoice.newSubmissionId, filesNote, ...extra });
    await reply.code(status).type(HTML).send(page);
  };

  app.get('/healthz', async (_request, reply) => reply.type('text/plain; charset=utf-8').send('ok\n'));

  app.get<{ Params: { name: string } }>('/static/:name', async (request, reply) => {
    const file = Object.hasOwn(STATIC_FILES, request.params.name) ? STATIC_FILES[request.params.name] : undefined;
    if (!file) return reply.code(404).type(HTML).send(notFound);
    return reply.type(file.type).send(file.body);
  });

  app.get<{ Params: { token: string } }>(`${PAGE_PREFIX}:token`, async (request, reply) => {
    const found = await open(request, reply, request.params.token);
    if (found) await render(reply, request, found, request.params.token, 200);
  });

  app.post<{ Params: { token: string } }>(`${PAGE_PREFIX}:token/answer`, async (request, reply) => {
    const token = request.params.token;
    const found = await open(request, reply, token);
    if (!found) return;
    const back = pagePath(token);
    if (!sameOrigin(request, publicUrl.origin)) {
      return reply.code(403).type(HTML).send(messagePage(basePath, 'Answer not accepted', 'The form was sent from another site, so nothing was recorded. Open the page from the link in our mail and answer there.', back));
    }
    let body: Awaited<ReturnType<typeof readAnswerBody>>;
    try {
      body = await readAnswerBody(request, { maxFiles: d.maxFiles, maxFileBytes: d.maxFileBytes });
    } catch (err) {
      if (!(err instanceof BodyRefused)) throw err;
      return reply.code(err.status).type(HTML).send(messagePage(basePath, 'Answer not recorded', `Nothing was recorded: ${err.message}. Go back, and send it again within the limit.`, back));
    }
    if (!d.csrf.check(found.link.id, d.csrf.nonceFrom(request.headers.cookie), body.fields.csrf)) {
      return reply
        .code(403)
        .type(HTML)
        .send(messagePage(basePath, 'Answer not accepted', 'The form could not be verified (it is old, or your browser did not send our cookie), so nothing was recorded. Reload the page and answer again.', back));
    }
    try {
      const outcome = await d.voice.answer({ ...found, fields: body.fields, files: body.files, sourceAddress: request.ip, userAgent: request.headers['user-agent'] });
      d.log.info({ incident: found.incident.id, link: found.link.id, answer: body.fields.answer, outcome, source: request.ip }, 'customer answer');
      return reply.code(303).header('location', `${d.publicUrl}${PAGE_PREFIX}${token}`).send();
    } catch (err) {
      if (isCordonError(err, 'invalid')) {
        const f = body.fields;
        return render(reply, request, found, token, 400, {
          error: err.message,
          draft: { answer: f.answer ?? '', text: f.text ?? '', planDueAt: f.planDueAt ?? '', submission: f.submission ?? '' },
        });
      }
      if (isCordonError(err, 'conflict')) return render(reply, request, found, token, 409, { error: err.message });
      throw err;
    }
  });

  app.get<{ Params: { token: string; fileId: string } }>(`${PAGE_PREFIX}:token/files/:fileId`, async (request, reply) => {
    const found = await open(request, reply, request.params.token);
    if (!found) return;
    const file = await d.voice.file(found.incident.id, request.params.fileId);
    if (!file) return missed(request, reply);
    // Never rendered: whatever the customer uploaded (HTML, SVG, a script) comes back as opaque bytes to save.
    return reply
      .type('application/octet-stream')
      .header('content-disposition', `attachment; filename="${file.filename}"; filename*=UTF-8''${encodeURIComponent(file.filename)}`)
      .header('content-security-policy', "default-src 'none'; sandbox")
      .send(file.bytes);
  });

  app.setNotFoundHandler(async (_request, reply) => reply.code(404).type(HTML).send(notFound));
}
