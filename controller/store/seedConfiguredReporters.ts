import type { RegisteredReporter } from '../intake/trust/RegisteredReporter.js';
import type { ConfigSeedChanges, StoredReporter } from './ReportersRepo.js';
import type { Store } from './Store.js';

/** A registry entry as the audit log records it (old and new values). */
export function reporterAuditValue(r: StoredReporter): Record<string, unknown> {
  return { id: r.id, name: r.name, kind: r.kind, domains: r.domains, arcForwarder: r.arcForwarder, feed: r.feed ?? null, source: r.source, addedBy: r.addedBy };
}

/**
 * At controller start: makes the registry's config-sourced entries exactly
 * the config's `reporters` (desk-added ones stay), and audits each change as
 * actor `config` with old and new values, all in one transaction. A start
 * with an unchanged config writes nothing.
 */
export async function seedConfiguredReporters(store: Store, reporters: readonly RegisteredReporter[], at: Date): Promise<ConfigSeedChanges> {
  return store.db.transaction(async () => {
    const changes = await store.reporters.replaceConfigured(reporters, at);
    await store.audit.appendMany([
      ...changes.removed.map((r) => ({ at, actor: 'config', action: 'reporter.remove', subject: r.id, detail: { old: reporterAuditValue(r), new: null } })),
      ...changes.updated.map((u) => ({ at, actor: 'config', action: 'reporter.update', subject: u.new.id, detail: { old: reporterAuditValue(u.old), new: reporterAuditValue(u.new) } })),
      ...changes.added.map((r) => ({ at, actor: 'config', action: 'reporter.add', subject: r.id, detail: { old: null, new: reporterAuditValue(r) } })),
    ]);
    return changes;
  });
}
