import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The customer page's link tokens.
 *
 * A token is HMAC-SHA256(secret, linkId): 256 bits that nobody without the
 * controller's secret (a file outside the store, `web.customer.secretFile`)
 * can tell from random, and that the controller can compute again when it
 * writes the mail. So the outbox row and the store keep only the link's id
 * and the SHA-256 of the token: a copy of the database opens no page, and a
 * mail re-sent after a crash carries the same link. A new link (resend-link)
 * has a new random id, hence a new token.
 */

/** A link id: 128 random bits, hex, with a prefix that says what it is. */
export function newLinkId(): string {
  return `lnk-${randomBytes(16).toString('hex')}`;
}

/** The token of a link: base64url of HMAC-SHA256(secret, linkId), 43 characters. */
export function tokenOf(secret: Buffer, linkId: string): string {
  return createHmac('sha256', secret).update(`cordon-customer-link\0${linkId}`).digest('base64url');
}

/** What the store keeps of a token: its SHA-256, hex. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether a string can be a token at all (43 base64url characters); anything else is refused before any lookup. */
export function isTokenShaped(s: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(s);
}

/** A per-purpose key derived from the secret (e.g. CSRF), so one secret file serves every use without reuse. */
export function derivedKey(secret: Buffer, purpose: string): Buffer {
  return createHmac('sha256', secret).update(`cordon-derive\0${purpose}`).digest();
}

export function equalConstantTime(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
