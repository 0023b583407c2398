import type { OutboxRepo } from '../store/OutboxRepo.js';
import { NEVER, type OutboxItem, type OutboxSource } from './OutboxSource.js';

/** Long enough for one send with the sender's timeouts (about 80 s). */
const MAIL_LEASE_MS = 180_000;

/**
 * The SQLite outbox as the mail worker sees it. Remembers each claimed row's
 * lease (the repo settles by lease, the worker by id), maps the worker's
 * "never" to the repo's dead status, and tells the caller when a row was
 * delivered, so the incident can record that its notice went out.
 * Only rows of kind 'mail' are claimed.
 */
export class StoreOutbox implements OutboxSource {
  private readonly leases = new Map<number, { lease: string; payload: unknown; incidentId: string | undefined }>();

  constructor(
    private readonly repo: OutboxRepo,
    private readonly onDelivered: (incidentId: string | undefined, payload: unknown) => Promise<void>,
  ) {}

  async claimDue(now: Date, limit: number): Promise<OutboxItem[]> {
    const claimed = await this.repo.claimDue(now, limit, MAIL_LEASE_MS, ['mail']);
    const items: OutboxItem[] = [];
    for (const m of claimed) {
      this.leases.set(m.id, { lease: m.lease, payload: m.payload, incidentId: m.incidentId });
      items.push({ id: m.id, ref: m.ref, kind: 'mail', incidentId: m.incidentId, payload: m.payload, attempts: m.attempts });
    }
    return items;
  }

  async markDone(id: number): Promise<void> {
    const held = this.leases.get(id);
    if (!held) return;
    await this.repo.markDone({ id, lease: held.lease });
    this.leases.delete(id);
    await this.onDelivered(held.incidentId, held.payload);
  }

  async markFailed(id: number, error: string, retryAt: Date): Promise<void> {
    const held = this.leases.get(id);
    if (!held) return;
    await this.repo.markFailed({ id, lease: held.lease }, error, retryAt.getTime() >= NEVER.getTime() ? null : retryAt);
    this.leases.delete(id);
  }
}
