import { isPermanentResponseCode, type NodemailerError } from 'nodemailer/lib/errors';
import { CordonError } from '../../proto/runtime/CordonError.js';

/** Failures of the way to the relay or of our own access to it: the message itself is fine, the relay may heal or be fixed. */
const PATH_CODES = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'ETLS', 'EPROXY', 'EAUTH', 'ENOAUTH', 'EOAUTH2']);
/** The message or the config is malformed before any server saw it: retrying the same row fails the same way. */
const INPUT_CODES = new Set(['ECONFIG', 'EMESSAGE']);

/**
 * Turns what nodemailer rejects a send with into a CordonError the outbox
 * worker can act on, by the SMTP reply code and nodemailer's error code,
 * never by message text:
 *
 * - a permanent SMTP reply (5xx except 503, RFC 5321) → `refused`: this relay
 *   will not take this message; do not retry.
 * - any other reply (4xx, 503) and every connection, TLS or authentication
 *   failure → `transient`: retry with backoff. Authentication counts here
 *   because a wrong password is the desk's problem, not the mail's; queued
 *   mail waits for the fix instead of being dropped.
 * - an envelope nodemailer itself rejects (no valid recipient) or a broken
 *   message → `invalid`.
 * - anything else → `transient`: an error nobody classified is more likely on
 *   the path than in a message rendered from checked input.
 */
export function classifySendError(err: unknown): CordonError {
  if (err instanceof CordonError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as NodemailerError;
  const text = err instanceof Error ? err.message : String(err);
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (typeof e.responseCode === 'number' && code !== 'EAUTH') {
    const permanent = e.permanent ?? isPermanentResponseCode(e.responseCode);
    const at = e.command ? ` (after ${e.command.split(' ')[0]})` : '';
    return permanent
      ? new CordonError('refused', `the mail relay refused the message${at}: ${text}`, { cause: err })
      : new CordonError('transient', `the mail relay deferred the message${at}: ${text}`, { cause: err });
  }
  if (code && PATH_CODES.has(code)) return new CordonError('transient', `mail relay unreachable or refusing us: ${text}`, { cause: err });
  if (code === 'EENVELOPE' || (code && INPUT_CODES.has(code))) return new CordonError('invalid', `mail not sendable: ${text}`, { cause: err });
  return new CordonError('transient', `mail send failed: ${text}`, { cause: err });
}
