import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isCordonError } from '../../../proto/runtime/CordonError.js';
import type { Logger } from '../../../proto/runtime/logger.js';
import type { Clock } from '../../clock.js';
import type { Host } from '../../inventory/Inventory.js';
import type { ManagedSecurityPolicies } from '../../security/ManagedSecurityPolicies.js';
import type { ManagedSecuritySettings } from '../../security/managedSecuritySettings.js';
import { SECURITY_PREFIX, type SecurityPages } from '../../security/SecurityPages.js';
import type { BadTokenLimiter } from './BadTokenLimiter.js';
import type { Csrf } from './csrf.js';
import { messagePage, notFoundPage } from './layout.js';
import { sameOrigin } from './routes.js';
import { renderSecurityPage } from './securityPageView.js';

export interface SecurityRoutesDeps {
  pages: SecurityPages;
  policies: ManagedSecurityPolicies;
  settings: ManagedSecuritySettings;
  csrf: Csrf;
  limiter: BadTokenLimiter;
  clock: Clock;
  log: Logger;
  publicUrl: string;
}

const HTML = 'text/html; charset=utf-8';
/** Ended bans the page lists below the active ones. */
const RECENT_ENDED = 20;

/**
 * The managed-security page (`/s/<token>`): the host's bans, and the
 * customer's lift (`POST /s/<token>/lift`, field `ban`), same-origin and
 * CSRF-checked like the incident page's answers. The lift is recorded in
 * the audit log with the customer as actor (BanLedger.lift), then pushed
 * to the agent as desired state.
 */
export function registerSecurityRoutes(app: FastifyInstance, d: SecurityRoutesDeps): void {
  const publicUrl = new URL(d.publicUrl);
  const basePath = publicUrl.pathname.replace(/\/+$/, '');
  const notFound = notFoundPage(basePath);
  const pagePath = (token: string) => `${basePath}${SECURITY_PREFIX}${token}`;
  const linkId = (host: Host) => `security:${host.id}`;

  const open = async (request: FastifyRequest, reply: FastifyReply, token: string): Promise<Host | undefined> => {
    const wait = d.limiter.retryAfter(request.ip);
    if (wait > 0) {
      await reply.code(429).header('retry-after', String(wait)).type(HTML).send(messagePage(basePath, 'Too many wrong links', `Too many requests with links that open nothing came from your address. Please wait ${wait} seconds.`));
      return undefined;
    }
    const host = d.pages.resolve(token, d.clock.now().getTime());
    if (!host) {
      d.limiter.miss(request.ip);
      await reply.code(404).type(HTML).send(notFound);
    }
    return host;
  };

  const render = async (request: FastifyRequest, reply: FastifyReply, host: Host, token: string, status: number, extra: { notice?: string; error?: string } = {}) => {
    let nonce = d.csrf.nonceFrom(request.headers.cookie);
    if (!nonce) {
      nonce = d.csrf.newNonce();
      reply.header('set-cookie', d.csrf.cookie(nonce));
    }
    const now = d.clock.now();
    const all = await d.policies.ledger.bans(host.id);
    const active = all.filter((b) => !b.ended && b.expiresAt.getTime() > now.getTime()).reverse();
    const ended = all.filter((b) => b.ended || b.expiresAt.getTime() <= now.getTime()).reverse().slice(0, RECENT_ENDED);
    const s = d.settings;
    const sockets = s.listenerCheckSeconds > 0 ? await d.policies.sockets.state(host.id) : undefined;
    const page = renderSecurityPage(host, active, ended, { basePath, pagePath: pagePath(token), csrf: d.csrf.field(linkId(host), nonce), services: s.services, baseBanSeconds: s.baseBanSeconds, maxBanSeconds: s.maxBanSeconds, sockets, listenerCheckSeconds: s.listenerCheckSeconds, ...extra });
    await reply.code(status).type(HTML).send(page);
  };

  app.get<{ Params: { token: string } }>(`${SECURITY_PREFIX}:token`, async (request, reply) => {
    const host = await open(request, reply, request.params.token);
    if (host) await render(request, reply, host, request.params.token, 200);
  });

  /** The host and form fields of a POST that passed the origin and CSRF checks, or undefined once a refusal is sent. */
  const form = async (request: FastifyRequest<{ Params: { token: string } }>, reply: FastifyReply): Promise<{ host: Host; fields: Record<string, unknown> } | undefined> => {
    const host = await open(request, reply, request.params.token);
    if (!host) return undefined;
    const fields = (request.body ?? {}) as Record<string, unknown>;
    const refuse = async (text: string) => {
      await reply.code(403).type(HTML).send(messagePage(basePath, 'Not accepted', text, pagePath(request.params.token)));
      return undefined;
    };
    if (!sameOrigin(request, publicUrl.origin)) return refuse('The form was sent from another site, so nothing was changed. Open the page from our link and act there.');
    if (!d.csrf.check(linkId(host), d.csrf.nonceFrom(request.headers.cookie), typeof fields.csrf === 'string' ? fields.csrf : undefined)) {
      return refuse('The form could not be verified (it is old, or your browser did not send our cookie), so nothing was changed. Reload the page and try again.');
    }
    return { host, fields };
  };
  const backToPage = (reply: FastifyReply, token: string) => reply.code(303).header('location', `${d.publicUrl.replace(/\/+$/, '')}${SECURITY_PREFIX}${token}`).send();

  app.post<{ Params: { token: string } }>(`${SECURITY_PREFIX}:token/accept`, async (request, reply) => {
    const token = request.params.token;
    const checked = await form(request, reply);
    if (!checked) return;
    const { host, fields } = checked;
    const key = typeof fields.socket === 'string' ? fields.socket.slice(0, 200) : '';
    try {
      await d.policies.sockets.accept(host.id, key, { actor: `customer:${host.customerId}`, sourceAddress: request.ip, userAgent: request.headers['user-agent'] }, d.clock.now());
      d.log.info({ host: host.id, socket: key, source: request.ip }, 'listening socket accepted into the baseline by the customer');
      return backToPage(reply, token);
    } catch (err) {
      if (isCordonError(err, 'not_found')) return render(request, reply, host, token, 409, { error: 'That socket is not waiting any more (accepted already?); nothing was changed.' });
      throw err;
    }
  });

  app.post<{ Params: { token: string } }>(`${SECURITY_PREFIX}:token/lift`, async (request, reply) => {
    const token = request.params.token;
    const checked = await form(request, reply);
    if (!checked) return;
    const { host, fields } = checked;
    const banId = typeof fields.ban === 'string' ? fields.ban.slice(0, 80) : '';
    try {
      const ban = await d.policies.ledger.lift(host.id, banId, { actor: `customer:${host.customerId}`, sourceAddress: request.ip, userAgent: request.headers['user-agent'] }, d.clock.now());
      d.policies.changed(host.id);
      d.log.info({ host: host.id, ban: banId, address: ban.address, source: request.ip }, 'ban lifted by the customer');
      return backToPage(reply, token);
    } catch (err) {
      if (isCordonError(err, 'not_found')) return render(request, reply, host, token, 409, { error: 'That ban is no longer in force (it ran out or was lifted already); nothing was changed.' });
      throw err;
    }
  });
}
