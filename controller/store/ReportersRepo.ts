import { CordonError } from '../../proto/runtime/CordonError.js';
import type { ReporterKind } from '../incidents/model.js';
import { validateReporter, type RegisteredReporter } from '../intake/trust/RegisteredReporter.js';
import type { SqlDatabase } from './SqlDatabase.js';
import { toEpochMs } from './epochMs.js';
import { oneOf } from './validate.js';

export type ReporterSource = 'config' | 'desk';

/** A registry entry with where it came from. */
export interface StoredReporter extends RegisteredReporter {
  /** `config`: the controller's config file owns it (re-seeded at each start); `desk`: an admin added it. */
  source: ReporterSource;
  addedBy: string;
  addedAt: Date;
}

/** What a config re-seed changed, with old and new values, for the audit log. */
export interface ConfigSeedChanges {
  added: StoredReporter[];
  updated: { old: StoredReporter; new: StoredReporter }[];
  removed: StoredReporter[];
}

interface Row {
  id: string;
  name: string;
  kind: string;
  domains_json: string;
  arc_forwarder: number;
  feed: string | null;
  notify_outcome: number | null;
  source: string;
  added_by: string;
  added_at: number;
}

/**
 * The reporter registry (migration 6's `reporters` table): who Cordon
 * believes. Entries are validated by validateReporter; no two reporters
 * share a domain or a feed (a domain names exactly one reporter). Listeners
 * registered with `onChange` hear of every write, so a cache of the registry
 * can drop itself.
 */
export class ReportersRepo {
  private readonly listeners = new Set<() => void>();

  constructor(private readonly db: SqlDatabase) {}

  /**
   * Adds a reporter. From the desk (`source: 'desk'`) an existing id is a
   * `conflict`; from the config it is an upsert (the config owns its
   * entries). A domain or feed another reporter holds is a `conflict`
   * naming the field (`reporter.domains[1]`). Returns the stored entry.
   */
  async add(input: RegisteredReporter, source: ReporterSource, addedBy: string, at: Date): Promise<StoredReporter> {
    const r = validateReporter(input, 'reporter');
    oneOf(source, ['config', 'desk'] as const, 'source');
    const stored = await this.db.transaction(async () => {
      const existing = await this.get(r.id);
      if (existing && source === 'desk') throw new CordonError('conflict', `reporter ${r.id} already exists (source ${existing.source})`, { field: 'reporter.id' });
      return this.write(r, source, addedBy, at);
    });
    this.changed();
    return stored;
  }

  /** Every reporter, ordered by id. */
  async list(): Promise<StoredReporter[]> {
    return (await this.db.all<Row>('SELECT * FROM reporters ORDER BY id')).map(fromRow);
  }

  async get(id: string): Promise<StoredReporter | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM reporters WHERE id = ?', [id]);
    return row ? fromRow(row) : undefined;
  }

  /** Removes a reporter and returns what it was; `not_found` when there is none. */
  async remove(id: string): Promise<StoredReporter> {
    const removed = await this.db.transaction(async () => {
      const existing = await this.get(id);
      if (!existing) throw new CordonError('not_found', `no reporter ${id}`, { field: 'id' });
      await this.db.run('DELETE FROM reporters WHERE id = ?', [id]);
      return existing;
    });
    this.changed();
    return removed;
  }

  /**
   * Makes the config-sourced entries exactly `configured`, all or nothing:
   * new ones added, changed ones updated, config entries no longer listed
   * removed. Desk-added entries are kept, except one whose id the config now
   * claims: the config takes it over. Returns what changed.
   */
  async replaceConfigured(configured: readonly RegisteredReporter[], at: Date): Promise<ConfigSeedChanges> {
    const changes: ConfigSeedChanges = { added: [], updated: [], removed: [] };
    await this.db.transaction(async () => {
      const before = new Map((await this.list()).map((r) => [r.id, r]));
      const wanted = new Set(configured.map((r) => r.id));
      // Removals first: a domain may move from a dropped entry to a new one.
      for (const old of before.values()) {
        if (old.source === 'config' && !wanted.has(old.id)) {
          await this.db.run('DELETE FROM reporters WHERE id = ?', [old.id]);
          changes.removed.push(old);
        }
      }
      for (const r of configured) {
        const valid = validateReporter(r, 'reporter');
        const old = before.get(valid.id);
        if (old && old.source === 'config' && sameEntry(old, valid)) continue;
        const stored = await this.write(valid, 'config', 'config', at);
        if (old) changes.updated.push({ old, new: stored });
        else changes.added.push(stored);
      }
    });
    if (changes.added.length + changes.updated.length + changes.removed.length > 0) this.changed();
    return changes;
  }

  /** Called after every write (after its transaction, or inside the caller's). Returns a function that unsubscribes. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Inserts or replaces one validated entry, after checking its domains and feed are free; inside the caller's transaction. */
  private async write(r: RegisteredReporter, source: ReporterSource, addedBy: string, at: Date): Promise<StoredReporter> {
    await this.checkUnique(r);
    await this.db.run(
      `INSERT INTO reporters (id, name, kind, domains_json, arc_forwarder, feed, notify_outcome, source, added_by, added_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, domains_json = excluded.domains_json,
         arc_forwarder = excluded.arc_forwarder, feed = excluded.feed, notify_outcome = excluded.notify_outcome, source = excluded.source,
         added_by = excluded.added_by, added_at = excluded.added_at`,
      [
        r.id,
        r.name,
        r.kind,
        JSON.stringify(r.domains),
        r.arcForwarder ? 1 : 0,
        r.feed ?? null,
        r.notifyOutcome === undefined ? null : r.notifyOutcome ? 1 : 0,
        source,
        addedBy,
        toEpochMs(at, 'addedAt'),
      ],
    );
    return { ...r, source, addedBy, addedAt: at };
  }

  /** No other reporter may hold one of `r`'s domains or its feed. */
  private async checkUnique(r: RegisteredReporter): Promise<void> {
    const others = (await this.list()).filter((o) => o.id !== r.id);
    for (const [i, d] of r.domains.entries()) {
      const owner = others.find((o) => o.domains.includes(d));
      if (owner) throw new CordonError('conflict', `${d} already belongs to reporter ${owner.id}`, { field: `reporter.domains[${i}]` });
    }
    const feedOwner = r.feed ? others.find((o) => o.feed === r.feed) : undefined;
    if (feedOwner) throw new CordonError('conflict', `feed ${r.feed} already belongs to reporter ${feedOwner.id}`, { field: 'reporter.feed' });
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}

function sameEntry(a: RegisteredReporter, b: RegisteredReporter): boolean {
  return (
    a.name === b.name &&
    a.kind === b.kind &&
    a.arcForwarder === b.arcForwarder &&
    (a.feed ?? '') === (b.feed ?? '') &&
    a.notifyOutcome === b.notifyOutcome &&
    JSON.stringify(a.domains) === JSON.stringify(b.domains)
  );
}

function fromRow(r: Row): StoredReporter {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind as ReporterKind,
    domains: JSON.parse(r.domains_json) as string[],
    arcForwarder: r.arc_forwarder === 1,
    ...(r.feed ? { feed: r.feed } : {}),
    ...(r.notify_outcome === null || r.notify_outcome === undefined ? {} : { notifyOutcome: r.notify_outcome === 1 }),
    source: oneOf(r.source, ['config', 'desk'] as const, 'reporters.source', 'internal'),
    addedBy: r.added_by,
    addedAt: new Date(r.added_at),
  };
}
