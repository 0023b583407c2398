import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Action } from '../incidents/model.js';
import { checkAction } from './checkAction.js';
import type { DesiredStateRepo, QueuedDesiredRows, SetActionsOptions } from './DesiredStateRepo.js';
import { toEpochMs } from './epochMs.js';
import { nonEmpty } from './validate.js';

/**
 * A transaction's desired-state changes (StoreTx): the actions an incident
 * opened in this transaction takes (it holds nothing yet, so nothing needs
 * reading or deleting) are queued, with the host's next generation counted
 * from the one read ahead, and written in bulk by `flush()`; any other
 * change first writes the queue, then goes to the repository as before.
 * A mass action on 1,000 hosts is then a few statements, not 4,000.
 *
 * Nothing else writes the hosts' rows meanwhile: the transaction holds the
 * write lock (SQLite's, or the replicas' on PostgreSQL).
 */
export class DesiredWrites {
  private queued: Omit<QueuedDesiredRows, 'heads'> = { enforcements: [], starts: [] };
  /** Each host's new generation, by host: one row per host however often it changed. */
  private heads = new Map<string, { generation: number; at: number }>();
  /** Each host's generation as this transaction leaves it (the table's plus what is queued). */
  private readonly generations = new Map<string, number>();
  /** For incidents whose every action start this transaction queued: whether the last was automatic. */
  private readonly starts = new Map<string, boolean>();
  /** Incidents whose actions went to the repository here: their starts are read from the table. */
  private readonly direct = new Set<string>();

  constructor(
    private readonly repo: DesiredStateRepo,
    /** Writes what the queue's rows refer to first (incidents this transaction opened). */
    private readonly before: () => Promise<void>,
  ) {}

  get pending(): boolean {
    return this.heads.size > 0;
  }

  /** Reads ahead the generations of these hosts (a host never changed has 0). */
  async prefetch(hostIds: readonly string[]): Promise<void> {
    const unknown = hostIds.filter((h) => !this.generations.has(h));
    if (unknown.length === 0) return;
    const found = await this.repo.generations(unknown);
    for (const h of unknown) this.generations.set(h, found.get(h) ?? 0);
  }

  /** DesiredStateRepo.setIncidentActions, queued when `options.freshIncident`; returns the host's generation. */
  async setIncidentActions(hostId: string, incidentId: string, actions: Action[], reason: string, options: SetActionsOptions): Promise<number> {
    if (!options.freshIncident) {
      this.direct.add(incidentId);
      this.starts.delete(incidentId);
      await this.flush();
      const generation = await this.repo.setIncidentActions(hostId, incidentId, actions, reason, options);
      this.generations.set(hostId, generation);
      return generation;
    }
    const at = toEpochMs(options.at, 'at');
    const kinds = new Set<string>();
    const rows = actions.map((a, i) => {
      const action = checkAction(a, `actions[${i}]`);
      if (kinds.has(action.kind)) throw new CordonError('invalid', `two ${action.kind} actions`, { field: `actions[${i}]` });
      kinds.add(action.kind);
      return { kind: action.kind, actionJson: JSON.stringify(action) };
    });
    await this.prefetch([hostId]);
    // An incident that holds nothing and is given nothing changes nothing: the same generation, as the repository answers.
    if (rows.length === 0) return this.generations.get(hostId)!;
    nonEmpty(reason, 'reason');
    for (const r of rows) {
      this.queued.enforcements.push({ incidentId, hostId, ...r, reason, at });
      this.queued.starts.push({ incidentId, hostId, kind: r.kind, automatic: options.automatic, at });
    }
    if (!this.direct.has(incidentId)) this.starts.set(incidentId, options.automatic);
    const generation = this.generations.get(hostId)! + 1;
    this.generations.set(hostId, generation);
    this.heads.set(hostId, { generation, at });
    return generation;
  }

  /**
   * Whether the incident's latest action start was automatic (undefined: it
   * has none); for an incident whose starts are all queued here, without a
   * read.
   */
  async lastStartAutomatic(incidentId: string): Promise<boolean | undefined> {
    const known = this.starts.get(incidentId);
    if (known !== undefined) return known;
    await this.flush();
    return this.repo.lastStartAutomatic(incidentId);
  }

  /** Writes the queue: before any read of enforcements, their starts or generations in this transaction. */
  async flush(): Promise<void> {
    if (!this.pending) return;
    const q = { ...this.queued, heads: [...this.heads].map(([hostId, h]) => ({ hostId, ...h })) };
    this.queued = { enforcements: [], starts: [] };
    this.heads = new Map();
    await this.before();
    await this.repo.writeQueued(q);
  }
}
