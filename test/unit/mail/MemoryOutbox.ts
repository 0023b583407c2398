import { newOutboxRef } from '../../../controller/store/OutboxRepo.js';
import type { OutboxItem, OutboxSource } from '../../../controller/mail/OutboxSource.js';

interface Row {
  id: number;
  ref: string;
  payload: unknown;
  incidentId: string | undefined;
  retryAt: Date;
  leasedUntil: Date | undefined;
  attempts: number;
  done: boolean;
  errors: string[];
}

/**
 * An OutboxSource in memory with the contract's semantics: due rows are
 * leased on claim and each claim counts as an attempt; markFailed releases
 * and reschedules. Payloads go through JSON like a SQLite column.
 */
export class MemoryOutbox implements OutboxSource {
  readonly rows: Row[] = [];
  readonly calls: string[] = [];
  private nextId = 1;

  constructor(private readonly leaseMs = 5 * 60_000) {}

  add(payload: unknown, at: Date): number {
    const id = this.nextId++;
    const incidentId = (payload as { incident?: { id?: string } }).incident?.id;
    this.rows.push({ id, ref: newOutboxRef(), payload: JSON.stringify(payload), incidentId, retryAt: at, leasedUntil: undefined, attempts: 0, done: false, errors: [] });
    return id;
  }

  row(id: number): Row {
    const r = this.rows.find((x) => x.id === id);
    if (!r) throw new Error(`no row ${id}`);
    return r;
  }

  async claimDue(now: Date, limit: number): Promise<OutboxItem[]> {
    this.calls.push('claimDue');
    const due = this.rows.filter((r) => !r.done && r.retryAt <= now && (!r.leasedUntil || r.leasedUntil <= now)).slice(0, limit);
    return due.map((r) => {
      r.attempts++; // every claim is an attempt, one that crashes too
      r.leasedUntil = new Date(now.getTime() + this.leaseMs);
      return { id: r.id, ref: r.ref, kind: 'mail' as const, incidentId: r.incidentId, payload: JSON.parse(r.payload as string) as unknown, attempts: r.attempts };
    });
  }

  async markDone(id: number): Promise<void> {
    this.calls.push(`markDone ${id}`);
    const r = this.row(id);
    r.done = true;
    r.leasedUntil = undefined;
  }

  async markFailed(id: number, error: string, retryAt: Date): Promise<void> {
    this.calls.push(`markFailed ${id}`);
    const r = this.row(id);
    r.errors.push(error);
    r.retryAt = retryAt;
    r.leasedUntil = undefined;
  }
}
