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

  get(id: string): Promise<Customer | undefined> {
    return this.db.get<Customer>('SELECT id, name, email FROM customers WHERE id = ?', [id]);
  }
}
