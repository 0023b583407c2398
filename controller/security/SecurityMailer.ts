import type { ListeningSocket } from '../../proto/gen/cordon/v1/agent.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { Inventory } from '../inventory/Inventory.js';
import type { Store } from '../store/Store.js';
import type { BanLedger } from './BanLedger.js';
import { MANAGED_SECURITY, type ManagedSecurityMailPayload } from './managedSecurityMail.js';

/** At most one ban mail per host within this: a brute-force wave is one mail, not hundreds. */
export const BAN_MAIL_INTERVAL_MS = 3_600_000;

/**
 * Queues managed security's mails to a host's customer in the outbox
 * (delivered by the mail worker, with the page link made at send time):
 * every list of new listening sockets, and the bans in force at most once
 * an hour per host (a `guard.mailed` audit entry marks each, so replicas
 * and restarts keep the pace).
 */
export class SecurityMailer {
  constructor(
    private readonly store: Store,
    private readonly inventory: Inventory,
    private readonly ledger: BanLedger,
    private readonly clock: () => Date,
    private readonly log: Logger,
  ) {}

  async newSockets(hostId: string, sockets: ListeningSocket[]): Promise<void> {
    await this.queue(hostId, { sockets: sockets.map((s) => ({ protocol: s.protocol, address: s.address, port: s.port, process: s.process, pid: s.pid })) });
  }

  async banned(hostId: string): Promise<void> {
    const now = this.clock();
    await this.store.db.transaction(async () => {
      const last = (await this.store.audit.search({ subject: hostId, actionPrefix: 'guard.mailed', limit: 1 }))[0];
      if (last && now.getTime() - last.at.getTime() < BAN_MAIL_INTERVAL_MS) return;
      const active = await this.ledger.active(hostId, now);
      if (active.length === 0) return;
      const bans = active.slice(-20).map((b) => ({ address: b.address, services: b.services, until: b.expiresAt, offence: b.offence }));
      if (await this.queue(hostId, { bans })) await this.store.audit.append({ at: now, actor: 'system', action: 'guard.mailed', subject: hostId, detail: { bans: bans.length } });
    });
  }

  private async queue(hostId: string, content: Pick<ManagedSecurityMailPayload, 'sockets' | 'bans'>): Promise<boolean> {
    const host = this.inventory.get(hostId);
    const customer = host ? await this.store.customers.get(host.customerId) : undefined;
    if (!host || !customer) {
      this.log.warn({ host: hostId }, 'no customer on record to mail about managed security');
      return false;
    }
    const now = this.clock();
    const payload: ManagedSecurityMailPayload = { template: MANAGED_SECURITY, customer, host: { id: host.id }, at: now, ...content };
    await this.store.outbox.enqueue({ kind: 'mail', payload, availableAt: now });
    return true;
  }
}
