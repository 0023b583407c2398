import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Database } from './Database.js';
import { fromEpochMs, toEpochMs } from './epochMs.js';
import { nonEmpty } from './validate.js';

/** One link to the customer page: who it was made for, and a hash of its token (never the token). */
export interface CustomerLink {
  id: string;
  incidentId: string;
  customerId: string;
  /** The customer's notice address when the link was made: the link is that contact's alone. */
  contact: string;
  tokenHash: string;
  createdAt: Date;
  createdBy: string;
  revokedAt: Date | undefined;
  revokedBy: string | undefined;
}

interface Row {
  id: string;
  incident_id: string;
  customer_id: string;
  contact: string;
  token_hash: string;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
  revoked_by: string | null;
}

const COLUMNS = 'id, incident_id, customer_id, contact, token_hash, created_at, created_by, revoked_at, revoked_by';

function fromRow(r: Row): CustomerLink {
  return {
    id: r.id,
    incidentId: r.incident_id,
    customerId: r.customer_id,
    contact: r.contact,
    tokenHash: r.token_hash,
    createdAt: new Date(r.created_at),
    createdBy: r.created_by,
    revokedAt: fromEpochMs(r.revoked_at),
    revokedBy: r.revoked_by ?? undefined,
  };
}

/** Links to the customer page (migration `customer_voice`). Whether one still opens the page is the web layer's rule (customer/linkAccess). */
export class CustomerLinksRepo {
  constructor(private readonly db: Database) {}

  async insert(link: Omit<CustomerLink, 'revokedAt' | 'revokedBy'>): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(link.tokenHash)) throw new CordonError('invalid', 'must be a SHA-256 in hex', { field: 'tokenHash' });
    await this.db.run(`INSERT INTO customer_links (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)`, [
      nonEmpty(link.id, 'id'),
      nonEmpty(link.incidentId, 'incidentId'),
      nonEmpty(link.customerId, 'customerId'),
      link.contact,
      link.tokenHash,
      toEpochMs(link.createdAt, 'createdAt'),
      nonEmpty(link.createdBy, 'createdBy'),
    ]);
  }

  async get(id: string): Promise<CustomerLink | undefined> {
    const r = await this.db.get<Row>(`SELECT ${COLUMNS} FROM customer_links WHERE id = ?`, [id]);
    return r ? fromRow(r) : undefined;
  }

  async byTokenHash(tokenHash: string): Promise<CustomerLink | undefined> {
    const r = await this.db.get<Row>(`SELECT ${COLUMNS} FROM customer_links WHERE token_hash = ?`, [tokenHash]);
    return r ? fromRow(r) : undefined;
  }

  async listByIncident(incidentId: string): Promise<CustomerLink[]> {
    return (await this.db.all<Row>(`SELECT ${COLUMNS} FROM customer_links WHERE incident_id = ? ORDER BY created_at, id`, [incidentId])).map(fromRow);
  }

  /** Revokes every live link of the incident; returns how many. */
  async revokeAll(incidentId: string, by: string, at: Date): Promise<number> {
    const r = await this.db.run('UPDATE customer_links SET revoked_at = ?, revoked_by = ? WHERE incident_id = ? AND revoked_at IS NULL', [
      toEpochMs(at, 'at'),
      nonEmpty(by, 'by'),
      incidentId,
    ]);
    return r.changes;
  }
}
