import type { AddReporterRequest, ListReportersResponse, RemoveReporterRequest, Reporter as ReporterMsg } from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { CallContext } from '../../proto/runtime/rpcServer.js';
import type { StoredReporter } from '../store/ReportersRepo.js';
import { reporterAuditValue } from '../store/seedConfiguredReporters.js';
import type { Store } from '../store/Store.js';

export interface ReporterDeskDeps {
  store: Store;
  clock: () => Date;
}

function operatorOf(ctx: CallContext): string {
  if (ctx.peer.kind !== 'operator') throw new CordonError('permission', 'operator certificates only');
  return ctx.peer.name;
}

export function toReporterMsg(r: StoredReporter): ReporterMsg {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    domains: r.domains,
    arcForwarder: r.arcForwarder,
    feed: r.feed ?? '',
    source: r.source,
    addedBy: r.addedBy,
    addedAt: r.addedAt,
  };
}

/**
 * The desk's reporter registry calls (ListReporters viewer; AddReporter and
 * RemoveReporter admin, checked by `authorize` first). Every change is
 * audited with the operator's name and the old and new values, in the same
 * transaction. Entries the controller's config owns are changed only there:
 * the desk refuses to remove them (`refused`, naming the key `reporters`).
 */
export function createReporterDesk(deps: ReporterDeskDeps) {
  return {
    async addReporter(req: AddReporterRequest, ctx: CallContext): Promise<ReporterMsg> {
      const actor = operatorOf(ctx);
      const r = req.reporter;
      if (!r) throw new CordonError('invalid', 'a reporter is required', { field: 'reporter' });
      const at = deps.clock();
      const stored = await deps.store.db.transaction(async () => {
        const added = await deps.store.reporters.add(
          { id: r.id, name: r.name, kind: r.kind as StoredReporter['kind'], domains: r.domains, arcForwarder: r.arcForwarder, ...(r.feed ? { feed: r.feed } : {}) },
          'desk',
          actor,
          at,
        );
        await deps.store.audit.append({ at, actor, action: 'reporter.add', subject: added.id, detail: { old: null, new: reporterAuditValue(added) } });
        return added;
      });
      return toReporterMsg(stored);
    },

    async listReporters(): Promise<ListReportersResponse> {
      return { reporters: (await deps.store.reporters.list()).map(toReporterMsg) };
    },

    async removeReporter(req: RemoveReporterRequest, ctx: CallContext): Promise<ReporterMsg> {
      const actor = operatorOf(ctx);
      const at = deps.clock();
      const removed = await deps.store.db.transaction(async () => {
        const existing = await deps.store.reporters.get(req.id);
        if (!existing) throw new CordonError('not_found', `no reporter ${req.id}`, { field: 'id' });
        if (existing.source === 'config') {
          throw new CordonError('refused', `reporter ${req.id} comes from the controller's config: remove it from the config key "reporters" and restart the controller`, {
            field: 'reporters',
          });
        }
        const gone = await deps.store.reporters.remove(req.id);
        await deps.store.audit.append({ at, actor, action: 'reporter.remove', subject: gone.id, detail: { old: reporterAuditValue(gone), new: null } });
        return gone;
      });
      return toReporterMsg(removed);
    },
  };
}
