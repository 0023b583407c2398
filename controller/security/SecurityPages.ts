import { createHmac } from 'node:crypto';
import { isTokenShaped } from '../customer/linkTokens.js';
import type { Host, Inventory } from '../inventory/Inventory.js';

/** The path of the managed-security page under the customer page's public URL. */
export const SECURITY_PREFIX = '/s/';

/** How long the token → host map is kept before the inventory is read again (a host added or moved to another customer). */
const CACHE_MS = 30_000;

/** The token of a host's page for its customer. */
export function securityToken(secret: Buffer, host: Pick<Host, 'id' | 'customerId'>): string {
  return createHmac('sha256', secret).update(`cordon-security-page\0${host.id}\0${host.customerId}`).digest('base64url');
}

/** The URL of a host's page for its customer under the customer page's public URL. */
export function securityPageUrl(secret: Buffer, publicUrl: string, host: Pick<Host, 'id' | 'customerId'>): string {
  return `${publicUrl.replace(/\/+$/, '')}${SECURITY_PREFIX}${securityToken(secret, host)}`;
}

/**
 * Links to a host's managed-security page. A token is HMAC-SHA256 of the
 * controller's customer-link secret over the host's id and its customer's
 * id: nobody without the secret can make one, nothing is stored, and a host
 * that moves to another customer gets a new token (the old customer's link
 * opens nothing). There is no per-link revocation: rotating the secret
 * replaces every link (incident links too).
 */
export class SecurityPages {
  private cache: { at: number; byToken: Map<string, Host> } | undefined;

  constructor(
    private readonly secret: Buffer,
    private readonly publicUrl: string,
    private readonly inventory: Inventory,
    private readonly covers: (hostId: string) => boolean,
  ) {}

  token(host: Pick<Host, 'id' | 'customerId'>): string {
    return securityToken(this.secret, host);
  }

  /** The page's URL for a host (what a mail to its customer carries). */
  url(host: Pick<Host, 'id' | 'customerId'>): string {
    return securityPageUrl(this.secret, this.publicUrl, host);
  }

  /** The host a token opens, or undefined (malformed, unknown, a host without managed security, another customer's). */
  resolve(token: string, nowMs: number): Host | undefined {
    if (!isTokenShaped(token)) return undefined;
    if (!this.cache || nowMs - this.cache.at > CACHE_MS) {
      const byToken = new Map<string, Host>();
      for (const h of this.inventory.list()) if (this.covers(h.id)) byToken.set(this.token(h), h);
      this.cache = { at: nowMs, byToken };
    }
    const host = this.cache.byToken.get(token);
    // Read again: the cached host may have left managed security or the inventory since.
    return host && this.covers(host.id) ? host : undefined;
  }
}
