import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import type { Incident } from '../../../controller/incidents/model.js';
import type { Host } from '../../../controller/inventory/Inventory.js';
import type { Store } from '../../../controller/store/Store.js';
import { openTestStore } from '../../helpers/testStore.js';

/** A fresh folder, removed when the test ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-store-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A store on a real SQLite file in a fresh folder (or, in the `postgresql`
 * test project, a fresh PostgreSQL database), closed and removed when the
 * test ends.
 */
export async function fileStore(): Promise<Store & { path: string }> {
  const path = join(tempDir(), 'cordon.db');
  const store = await openTestStore(path);
  onTestFinished(() => store.close());
  return Object.assign(store, { path });
}

export const T0 = new Date('2026-03-01T12:00:00.000Z');
export const at = (hours: number) => new Date(T0.getTime() + hours * 3_600_000);

export const host = (id: string, publicPrefixes: string[], customerId = 'cust-1'): Host => ({
  id,
  customerId,
  publicPrefixes,
  managementAddress: '10.255.0.10',
});

/** A just-opened incident; override what the test cares about. */
export const incident = (over: Partial<Incident> = {}): Incident => ({
  id: 'inc-1',
  hostId: 'web-01',
  customerId: 'cust-1',
  category: 'spam',
  state: 'received',
  trusted: true,
  openedAt: T0,
  notifiedAt: undefined,
  ackDueAt: undefined,
  resolveDueAt: undefined,
  acknowledgedAt: undefined,
  answeredAt: undefined,
  escalatedAt: undefined,
  step: -1,
  actions: [],
  hold: undefined,
  closedAt: undefined,
  complaintCount: 1,
  established: false,
  overdue: false,
  openedBy: 'complaint',
  ...over,
});

/** A store with host web-01 (203.0.113.0/24, 2001:db8:1::/48) and web-02 (198.51.100.0/24). */
export async function seededStore(): Promise<Store & { path: string }> {
  const store = await fileStore();
  await store.hosts.upsertMany([host('web-01', ['203.0.113.0/24', '2001:db8:1::/48']), host('web-02', ['198.51.100.0/24'], 'cust-2')]);
  return store;
}
