import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Action } from '../incidents/model.js';
import { checkAction } from './checkAction.js';
import type { DesiredStateRepo, QueuedDesiredRows, SetActionsOptions } from './DesiredStateRepo.js';
import { toEpochMs } from './epochMs.js';
import { nonEmpty } from './validate.js';

type Held = Map<string, { actionJson: string; reason: string }>;

/**
 * A transaction's desired-state changes (StoreTx). For an incident whose
 * holdings are known — one opened in this transaction (it holds nothing
 * yet) or one read ahead (`prefetchHeld`) — the change is queued: the rows
 * it drops, the rows it sets, the kinds it newly takes on (their starts)
 * and the host's next generation, counted from the one read ahead; `flush()`
 * writes them in bulk. Any other change first writes the queue, then goes
 * to the repository as before. A mass action on 1,000 hosts is then a few
 * statements, not 4,000.
 *
 * Nothing else writes the hosts' rows meanwhile: the transaction holds the
 * write lock (SQLite's, or the replicas' on PostgreSQL).
 */
export class DesiredWrites {
  /** Rows to set and to drop, by `incident\0kind`: a later change to the same row replaces the earlier one. */
  private sets = new Map<string, QueuedDesiredRows['enforcements'][number]>();
  private drops = new Map<string, { incidentId: string; kind: string }>();
  private starts: QueuedDesiredRows['starts'] = [];
  /** Each host's new generation, by host: one row per host however often it changed. */
  private heads = new Map<string, { generation: number; at: number }>();
  /** Each host's generation as this transaction leaves it (the table's plus what is queued). */
  private readonly generations = new Map<string, number>();
  /** What each known incident holds as this transaction leaves it, and on which host. */
  private readonly held = new Map<string, { hostId: string; rows: Held }>();
  /** For known incidents: whether the last action start was automatic (absent: none yet). */
  private readonly lastStart = new Map<string, boolean>();

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

  /** Reads ahead what these incidents (id and host, as the caller read them) hold, and their hosts' generations. */
  async prefetchHeld(incidents: readonly { id: string; hostId: string }[]): Promise<void> {
    const unknown = incidents.filter((i) => !this.held.has(i.id));
    if (unknown.length === 0) return;
    await this.flush();
    const found = await this.repo.heldByIncidents(unknown.map((i) => i.id));
    for (const i of unknown) {
      const found_ = found.get(i.id) ?? [];
      // A row on another host than the incident's cannot be (the (incident, host) key): such an incident is left to the repository.
      if (found_.some((r) => r.hostId !== i.hostId)) continue;
      this.held.set(i.id, { hostId: i.hostId, rows: new Map(found_.map((r) => [r.kind, { actionJson: r.actionJson, reason: r.reason }])) });
    }
    await this.prefetch(unknown.map((i) => i.hostId));
  }

  /**
   * DesiredStateRepo.setIncidentActions, queued when the incident's holdings
   * are known (`options.freshIncident`, or read ahead for this host);
   * returns the host's generation.
   */
  async setIncidentActions(hostId: string, incidentId: string, actions: Action[], reason: string, options: SetActionsOptions): Promise<number> {
    if (options.freshIncident && !this.held.has(incidentId)) this.held.set(incidentId, { hostId, rows: new Map() });
    const known = this.held.get(incidentId);
    if (!known || known.hostId !== hostId) {
      this.held.delete(incidentId);
      this.lastStart.delete(incidentId);
      await this.flush();
      const generation = await this.repo.setIncidentActions(hostId, incidentId, actions, reason, options);
      this.generations.set(hostId, generation);
      return generation;
    }
    const at = toEpochMs(options.at, 'at');
    const wanted: Held = new Map();
    actions.forEach((a, i) => {
      const action = checkAction(a, `actions[${i}]`);
      if (wanted.has(action.kind)) throw new CordonError('invalid', `two ${action.kind} actions`, { field: `actions[${i}]` });
      wanted.set(action.kind, { actionJson: JSON.stringify(action), reason });
    });
    if (actions.length > 0) nonEmpty(reason, 'reason');
    await this.prefetch([hostId]);
    const held = known.rows;
    // Nothing changes (an action, its parameters, the reason): the same generation, as the repository answers.
    const same = held.size === wanted.size && [...held].every(([kind, h]) => wanted.get(kind)?.actionJson === h.actionJson && h.reason === reason);
    if (same) return this.generations.get(hostId)!;
    for (const kind of held.keys()) {
      if (wanted.has(kind)) continue;
      const key = `${incidentId}\u0000${kind}`;
      this.sets.delete(key);
      this.drops.set(key, { incidentId, kind });
    }
    for (const [kind, w] of wanted) {
      const key = `${incidentId}\u0000${kind}`;
      this.drops.delete(key);
      // `since` keeps the first time the incident took this kind on: the table's row keeps its own on conflict.
      this.sets.set(key, { incidentId, hostId, kind, actionJson: w.actionJson, reason, at });
      if (!held.has(kind)) {
        this.starts.push({ incidentId, hostId, kind, automatic: options.automatic, at });
        this.lastStart.set(incidentId, options.automatic);
      }
    }
    known.rows = wanted;
    const generation = this.generations.get(hostId)! + 1;
    this.generations.set(hostId, generation);
    this.heads.set(hostId, { generation, at });
    return generation;
  }

  /**
   * Whether the incident's latest action start was automatic (undefined: it
   * has none); for an incident whose starts are all known here, without a
   * read.
   */
  async lastStartAutomatic(incidentId: string): Promise<boolean | undefined> {
    const known = this.lastStart.get(incidentId);
    if (known !== undefined) return known;
    await this.flush();
    return this.repo.lastStartAutomatic(incidentId);
  }

  /** Writes the queue: before any read of enforcements, their starts or generations in this transaction. */
  async flush(): Promise<void> {
    if (!this.pending) return;
    const q = { drops: [...this.drops.values()], enforcements: [...this.sets.values()], starts: this.starts, heads: [...this.heads].map(([hostId, h]) => ({ hostId, ...h })) };
    this.sets = new Map();
    this.drops = new Map();
    this.starts = [];
    this.heads = new Map();
    await this.before();
    await this.repo.writeQueued(q);
  }
}
