import type { FastifyReply, FastifyRequest } from 'fastify';
import { asCordonError, CordonError } from '../../../proto/runtime/CordonError.js';
import type { Logger } from '../../../proto/runtime/logger.js';
import type { Csrf } from '../customer/csrf.js';
import { sameOrigin } from '../customer/routes.js';
import type { DeskOperator } from './DeskAccess.js';
import { deskMessage } from './deskLayout.js';
import { httpStatusOf } from './httpStatusOf.js';

const HTML = 'text/html; charset=utf-8';

/** What the approvals, audit and health routes share: the CSRF nonce, the check of a POSTed form, and a refusal in words. */
export interface DeskReplies {
  /** The browser's CSRF nonce, set as a cookie when it has none yet. */
  nonceFor(request: FastifyRequest, reply: FastifyReply): string;
  /**
   * Throws `permission` for a POST the desk's page did not make: another
   * site's (Origin, Sec-Fetch-Site), or one without this operator's CSRF
   * pair. Call it after `admit`: the role is refused first, as over gRPC.
   */
  checkForm(request: FastifyRequest, op: DeskOperator, csrfField: string): void;
  /** A refusal as the operator reads it: the CordonError's own words (which name the field); anything unexpected is logged, not shown. */
  refuse(reply: FastifyReply, err: unknown, back: string): FastifyReply;
}

/** The same checks and wording as the slice's incident routes (registerDeskRoutes), for the pages registered beside it. */
export function createDeskReplies(csrf: Csrf, log: Logger): DeskReplies {
  return {
    nonceFor(request, reply) {
      const have = csrf.nonceFrom(request.headers.cookie);
      if (have) return have;
      const nonce = csrf.newNonce();
      reply.header('set-cookie', csrf.cookie(nonce));
      return nonce;
    },
    checkForm(request, op, csrfField) {
      if (!sameOrigin(request, `https://${request.headers.host ?? ''}`)) throw new CordonError('permission', "the request did not come from the desk's own page (Origin or Sec-Fetch-Site); nothing was changed");
      if (!csrf.check(op.fingerprint, csrf.nonceFrom(request.headers.cookie), csrfField)) {
        throw new CordonError('permission', 'the form has expired or did not come from this desk (CSRF check failed); reload the page and try again; nothing was changed');
      }
    },
    refuse(reply, err, back) {
      const e = asCordonError(err);
      const status = httpStatusOf(e.kind);
      if (e.kind === 'internal') log.error({ err: e.message, stack: e.stack }, 'desk page failed');
      // A CordonError's message already leads with the field it names.
      const text = e.kind === 'internal' ? 'Something went wrong on the controller; nothing was changed. The log has the details.' : e.message;
      return reply.code(status).type(HTML).send(deskMessage(status === 403 ? 'Not allowed' : 'Refused', text, back));
    },
  };
}

/** A form's string field, '' when absent or not a string (a repeated field arrives as an array). */
export function formField(body: unknown, name: string): string {
  const b = (body ?? {}) as Record<string, unknown>;
  return typeof b[name] === 'string' ? (b[name] as string) : '';
}
