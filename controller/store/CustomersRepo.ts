import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Database } from './Database.js';
import { nonEmpty } from './validate.js';

/** Whom the desk writes to about a host. */
export interface Customer {
  id: string;
  name: string;
  email: string;
}

/** Customers' contact details. Hosts name a customer id without a foreign key (migrations.ts says why). */
export class CustomersRepo {
  constructor(private readonly db: Database) {}

  /** Inserts or replaces the customer's name and email. `invalid` names the bad field. */
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
