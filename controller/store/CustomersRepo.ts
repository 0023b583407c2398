import { CordonError } from '../../proto/runtime/CordonError.js';
import type { SqlDatabase } from './SqlDatabase.js';
import { nonEmpty } from './validate.js';

/** Whom the desk writes to about a host. */
export interface Customer {
  id: string;
  name: string;
  email: string;
}

// RFC 5322 3.2.3 atext, and a dot-atom made of it: no quoted local parts, no comments, no folding.
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LOCAL_PART = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`);
// RFC 1035/5321 host names: LDH labels of 1 to 63 characters, at least two of them; no address literals.
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * Checks a notice address strictly: an RFC 5322 addr-spec whose local part
 * is a dot-atom (at most 64 octets) and whose domain is a host name with at
 * least two labels (at most 253 octets), 254 octets in all (RFC 5321).
 * Quoted local parts, comments, display names, address literals and
 * non-ASCII are refused: a notice address is typed by an operator and must
 * be one a relay delivers without surprises. Returns the address trimmed;
 * throws CordonError('invalid') naming `field`.
 */
export function checkEmailAddress(value: string, field: string): string {
  const email = typeof value === 'string' ? value.trim() : '';
  const bad = (why: string) => new CordonError('invalid', `${JSON.stringify(value)} is not an email address: ${why}`, { field });
  if (email === '') throw new CordonError('invalid', 'an email address is required', { field });
  if (email.length > 254) throw bad('longer than 254 characters');
  const at = email.lastIndexOf('@');
  if (at < 1 || at === email.length - 1) throw bad('it needs a local part, one @ and a domain');
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local.length > 64) throw bad('the part before @ is longer than 64 characters');
  if (!LOCAL_PART.test(local)) throw bad('the part before @ must be letters, digits and !#$%&\'*+/=?^_`{|}~- separated by single dots');
  const labels = domain.split('.');
  if (domain.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^[0-9]+$/.test(labels.at(-1)!)) {
    throw bad('the domain must be a host name such as example.org');
  }
  return email;
}

/** Customers' contact details. Hosts name a customer id without a foreign key (migrations.ts says why). */
export class CustomersRepo {
  constructor(private readonly db: SqlDatabase) {}

  /**
   * Inserts or replaces the customer's name and email. `invalid` names the
   * bad field. For the inventory file only: the desk never replaces a
   * contact this way (`create`, `setContact`).
   */
  async upsert(customer: Customer): Promise<void> {
    const id = nonEmpty(customer.id, 'id');
    const name = nonEmpty(customer.name, 'name');
    // Deliberately loose: one @ with something on both sides. The mailer is the real test.
    if (typeof customer.email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(customer.email)) {
      throw new CordonError('invalid', `${JSON.stringify(customer.email)} is not an email address`, { field: 'email' });
    }
    await this.db.run(
      `INSERT INTO customers (id, name, email) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email`,
      [id, name, customer.email],
    );
  }

  /** Adds a customer that does not exist yet; `conflict` if the id is taken, `invalid` (strict address check) naming the field. */
  async create(customer: Customer): Promise<Customer> {
    const row = { id: nonEmpty(customer.id, 'id'), name: nonEmpty(customer.name, 'name'), email: checkEmailAddress(customer.email, 'email') };
    const { changes } = await this.db.run('INSERT INTO customers (id, name, email) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING', [row.id, row.name, row.email]);
    if (changes === 0) throw new CordonError('conflict', `customer ${row.id} exists already`, { field: 'id' });
    return row;
  }

  /**
   * Changes an existing customer's name and/or email (empty or absent: kept)
   * and returns the contact before and after. `not_found` for an unknown
   * customer; `invalid` (strict address check) naming the field. Run it in
   * the transaction that audits the change and queues the mail about it.
   */
  async setContact(id: string, change: { name?: string | undefined; email?: string | undefined }): Promise<{ before: Customer; after: Customer }> {
    const before = await this.get(id);
    if (!before) throw new CordonError('not_found', `no customer ${id}`, { field: 'customerId' });
    const after: Customer = {
      id: before.id,
      name: change.name?.trim() ? change.name.trim() : before.name,
      email: change.email?.trim() ? checkEmailAddress(change.email, 'email') : before.email,
    };
    await this.db.run('UPDATE customers SET name = ?, email = ? WHERE id = ?', [after.name, after.email, id]);
    return { before, after };
  }

  /** These customers (those known), in one query per 1,000 ids. */
  async getMany(ids: readonly string[]): Promise<Customer[]> {
    const out: Customer[] = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const slice = ids.slice(i, i + 1000);
      const size = Math.max(16, 2 ** Math.ceil(Math.log2(slice.length)));
      out.push(...(await this.db.all<Customer>(`SELECT id, name, email FROM customers WHERE id IN (${Array(size).fill('?').join(', ')})`, [...slice, ...Array<string>(size - slice.length).fill(slice[0]!)])));
    }
    return out;
  }

  get(id: string): Promise<Customer | undefined> {
    return this.db.get<Customer>('SELECT id, name, email FROM customers WHERE id = ?', [id]);
  }
}
