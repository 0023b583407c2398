import { createHmac, randomBytes } from 'node:crypto';
import { derivedKey, equalConstantTime } from '../../customer/linkTokens.js';

/** The cookie that carries the browser's nonce. `__Host-` is impossible (Path is not /), so the name only says what it is. */
export const CSRF_COOKIE = 'cordon_csrf';

const NONCE = /^[A-Za-z0-9_-]{32,64}$/;

/**
 * Double-submit CSRF bound to the link: the browser holds a random nonce in
 * an HttpOnly, SameSite=Strict cookie; each form carries
 * HMAC(derivedKey(secret, 'csrf'), linkId, nonce). A forged POST from another
 * site has neither the cookie (SameSite) nor a way to compute the field, and
 * a field copied from one link's page is worthless on another's.
 */
export class Csrf {
  private readonly key: Buffer;

  constructor(
    secret: Buffer,
    private readonly cookiePath: string,
    private readonly secure: boolean,
  ) {
    this.key = derivedKey(secret, 'csrf');
  }

  /** The browser's nonce if it sent a well-formed one. */
  nonceFrom(cookieHeader: string | undefined): string | undefined {
    for (const part of (cookieHeader ?? '').split(';')) {
      const [name, value] = part.trim().split('=', 2);
      if (name === CSRF_COOKIE && value && NONCE.test(value)) return value;
    }
    return undefined;
  }

  newNonce(): string {
    return randomBytes(32).toString('base64url');
  }

  /** The Set-Cookie value for a nonce. */
  cookie(nonce: string): string {
    return `${CSRF_COOKIE}=${nonce}; Path=${this.cookiePath}; HttpOnly; SameSite=Strict${this.secure ? '; Secure' : ''}`;
  }

  /** The form field for this link and nonce. */
  field(linkId: string, nonce: string): string {
    return createHmac('sha256', this.key).update(`${linkId}\0${nonce}`).digest('base64url');
  }

  /** Whether the form's field matches the cookie's nonce for this link. */
  check(linkId: string, nonce: string | undefined, field: string | undefined): boolean {
    if (!nonce || !field) return false;
    return equalConstantTime(this.field(linkId, nonce), field);
  }
}
