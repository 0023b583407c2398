import { CordonError } from '../../proto/runtime/CordonError.js';
import type { SqlDatabase } from './SqlDatabase.js';
import { fromEpochMs, toEpochMs } from './epochMs.js';
import { nonEmpty } from './validate.js';
import { byIdChunks } from './byIdChunks.js';
import { INCIDENT_COLUMNS, incidentFromRow, type IncidentRow } from './incidentRow.js';
import type { Incident } from '../incidents/model.js';

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

/** Links per multi-row INSERT (7 parameters each). */
const ROWS_PER_INSERT = 500;

/** Links to the customer page (migration `customer_voice`). Whether one still opens the page is the web layer's rule (customer/linkAccess). */
export class CustomerLinksRepo {
  constructor(private readonly db: SqlDatabase) {}

  async insert(link: Omit<CustomerLink, 'revokedAt' | 'revokedBy'>): Promise<void> {
    await this.insertMany([link]);
  }

  /** Inserts links in order, in as few statements as it can (inside the caller's transaction, or all or none). */
  async insertMany(links: readonly Omit<CustomerLink, 'revokedAt' | 'revokedBy'>[]): Promise<void> {
    const rows = links.map((link) => {
      if (!/^[0-9a-f]{64}$/.test(link.tokenHash)) throw new CordonError('invalid', 'must be a SHA-256 in hex', { field: 'tokenHash' });
      return [
        nonEmpty(link.id, 'id'),
        nonEmpty(link.incidentId, 'incidentId'),
        nonEmpty(link.customerId, 'customerId'),
        link.contact,
        link.tokenHash,
        toEpochMs(link.createdAt, 'createdAt'),
        nonEmpty(link.createdBy, 'createdBy'),
      ];
    });
    const write = async () => {
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        const slice = rows.slice(i, i + ROWS_PER_INSERT);
        await this.db.run(`INSERT INTO customer_links (${COLUMNS}) VALUES ${slice.map(() => '(?, ?, ?, ?, ?, ?, ?, NULL, NULL)').join(', ')}`, slice.flat());
      }
    };
    if (rows.length <= ROWS_PER_INSERT || this.db.inTransaction) await write();
    else await this.db.transaction(write);
  }

  async get(id: string): Promise<CustomerLink | undefined> {
    const r = await this.db.get<Row>(`SELECT ${COLUMNS} FROM customer_links WHERE id = ?`, [id]);
    return r ? fromRow(r) : undefined;
  }

  async byTokenHash(tokenHash: string): Promise<CustomerLink | undefined> {
    const r = await this.db.get<Row>(`SELECT ${COLUMNS} FROM customer_links WHERE token_hash = ?`, [tokenHash]);
    return r ? fromRow(r) : undefined;
  }

  /**
   * The link with this token hash, its incident and the customer's notice
   * address as they stand now, in one statement: the customer page asks
   * this for every request.
   */
  async openByTokenHash(tokenHash: string): Promise<{ link: CustomerLink; incident: Incident; contactNow: string | undefined } | undefined> {
    const incidentColumns = INCIDENT_COLUMNS.split(',').map((c) => `i.${c.trim()}`).join(', ');
    const r = await this.db.get<IncidentRow & { l_id: string; l_incident_id: string; l_customer_id: string; l_contact: string; l_token_hash: string; l_created_at: number; l_created_by: string; l_revoked_at: number | null; l_revoked_by: string | null; contact_now: string | null }>(
      `SELECT l.id AS l_id, l.incident_id AS l_incident_id, l.customer_id AS l_customer_id, l.contact AS l_contact, l.token_hash AS l_token_hash,
              l.created_at AS l_created_at, l.created_by AS l_created_by, l.revoked_at AS l_revoked_at, l.revoked_by AS l_revoked_by,
              c.email AS contact_now, ${incidentColumns}
       FROM customer_links l JOIN incidents i ON i.id = l.incident_id LEFT JOIN customers c ON c.id = i.customer_id
       WHERE l.token_hash = ?`,
      [tokenHash],
    );
    if (!r) return undefined;
    const link = fromRow({
      id: r.l_id,
      incident_id: r.l_incident_id,
      customer_id: r.l_customer_id,
      contact: r.l_contact,
      token_hash: r.l_token_hash,
      created_at: r.l_created_at,
      created_by: r.l_created_by,
      revoked_at: r.l_revoked_at,
      revoked_by: r.l_revoked_by,
    });
    return { link, incident: incidentFromRow(r), contactNow: r.contact_now ?? undefined };
  }

  async listByIncident(incidentId: string): Promise<CustomerLink[]> {
    return (await this.db.all<Row>(`SELECT ${COLUMNS} FROM customer_links WHERE incident_id = ? ORDER BY created_at, id`, [incidentId])).map(fromRow);
  }

  /** `listByIncident` for many incidents: every asked incident is in the map, with its links oldest first. */
  async listByIncidents(incidentIds: readonly string[]): Promise<Map<string, CustomerLink[]>> {
    const out = new Map<string, CustomerLink[]>(incidentIds.map((id) => [id, []]));
    if (incidentIds.length === 0) return out;
    const rows = await byIdChunks(incidentIds, (list, params) =>
      this.db.all<Row>(`SELECT ${COLUMNS} FROM customer_links WHERE incident_id IN (${list}) ORDER BY created_at, id`, params),
    );
    for (const r of rows) out.get(r.incident_id)?.push(fromRow(r));
    return out;
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
