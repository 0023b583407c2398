import type { Incident } from '../incidents/model.js';
import { TERMINAL_STATES } from '../incidents/model.js';
import type { CustomerLink } from '../store/CustomerLinksRepo.js';
import type { Store } from '../store/Store.js';
import type { StoreTx } from '../store/StoreTx.js';
import { hashToken, isTokenShaped, newLinkId, tokenOf } from './linkTokens.js';

export interface CustomerLinkSettings {
  /** `web.customer.secretFile`'s bytes (see linkTokens.ts). */
  secret: Buffer;
  /** `web.customer.publicUrl`: where customers reach the page, without a trailing slash. */
  publicUrl: string;
  /** `web.customer.linkTtlDays`: how long after an incident closes its links still open the page. */
  ttlDays: number;
}

const DAY = 86_400_000;

/** The path of the page under `publicUrl`; the web server serves the same. */
export const PAGE_PREFIX = '/c/';

/**
 * Links to the customer page: one per incident at a time, made for its
 * customer's notice address. Runs inside the caller's transaction.
 */
export class CustomerLinks {
  constructor(
    private readonly store: Store,
    readonly settings: CustomerLinkSettings,
    /** Read-only connections for `resolve`, the page's hot path (ReadPool.next); the store itself when absent. */
    private readonly reads?: () => Store,
  ) {}

  /** The URL a mail carries for this link. */
  url(linkId: string): string {
    return `${this.settings.publicUrl.replace(/\/+$/, '')}${PAGE_PREFIX}${tokenOf(this.settings.secret, linkId)}`;
  }

  /**
   * The incident's live link made for `contact`, or a new one. Inside a
   * StoreTx, the links it read ahead serve (none read per incident) and a
   * new link is queued with its other writes.
   */
  async ensure(incident: Incident, contact: string, by: string, at: Date, tx?: StoreTx): Promise<string> {
    const links = tx?.knownLinks(incident.id) ?? (await this.store.customerLinks.listByIncident(incident.id));
    const live = links.filter((l) => l.revokedAt === undefined && l.contact === contact);
    if (live.length > 0) return live.at(-1)!.id;
    return this.issue(incident, contact, by, at, tx);
  }

  /** A new link (a new token); earlier ones stay valid unless revoked. */
  async issue(incident: Incident, contact: string, by: string, at: Date, tx?: StoreTx): Promise<string> {
    const id = newLinkId();
    const link = {
      id,
      incidentId: incident.id,
      customerId: incident.customerId,
      contact,
      tokenHash: hashToken(tokenOf(this.settings.secret, id)),
      createdAt: at,
      createdBy: by,
    };
    if (tx) tx.insertLink(link);
    else await this.store.customerLinks.insert(link);
    return id;
  }

  /**
   * The link and incident a token opens, or undefined: for a malformed,
   * unknown, revoked or expired token, one whose incident went to another
   * customer, or one made for a notice address the customer no longer has.
   * The caller answers every undefined the same way (404, no data).
   */
  async resolve(token: string, now: Date): Promise<{ link: CustomerLink; incident: Incident } | undefined> {
    if (!isTokenShaped(token)) return undefined;
    const found = await (this.reads?.() ?? this.store).customerLinks.openByTokenHash(hashToken(token));
    if (!found) return undefined;
    const { link, incident, contactNow } = found;
    if (link.revokedAt !== undefined || incident.customerId !== link.customerId || contactNow !== link.contact) return undefined;
    if (TERMINAL_STATES.includes(incident.state) && incident.closedAt && now.getTime() > incident.closedAt.getTime() + this.settings.ttlDays * DAY) return undefined;
    return { link, incident };
  }
}
