import { isCordonError } from '../../proto/runtime/CordonError.js';
import type { Store } from '../store/Store.js';
import type { IncidentService } from './IncidentService.js';

/**
 * A page of due deadlines in one transaction (IncidentService.applyMany),
 * each fired once however many replicas see it due: the replica that takes
 * the incident's row applies it, the others skip it (not a failure). A page
 * that fails transient as a whole (a busy file, a race lost six times) is
 * run again, at most three times; a deadline fired meanwhile is then stale,
 * and the lifecycle ignores an event whose due time is no longer the
 * incident's. runController wires it to the DeadlineScheduler; the
 * scheduler benchmark runs the same.
 */
export async function fireDeadlines(service: IncidentService, store: Store, page: readonly { id: string; dueAt: Date }[]): Promise<Map<string, unknown>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await service.applyMany(
        page.map((d) => ({ incidentId: d.id, event: { type: 'deadline', dueAt: d.dueAt } as const })),
        'clock',
        { claim: (ids) => store.incidents.claimMany(ids) },
      );
    } catch (err) {
      if (attempt < 3 && isCordonError(err, 'transient')) continue;
      throw err;
    }
  }
}
