import type { SqlDatabase } from './SqlDatabase.js';
import { toEpochMs } from './epochMs.js';
import { nonEmpty } from './validate.js';

export interface ReplicaRow {
  id: string;
  listen: string;
  startedAt: Date;
  seenAt: Date;
}

/** One host's agent stream as the replica holding it last wrote it; `session` is that replica's JSON, opaque here. */
export interface AgentLinkRow {
  hostId: string;
  replicaId: string;
  live: boolean;
  connectedSince: Date;
  session: string;
  changedAt: Date;
}

export type AgentLinkWrite = Omit<AgentLinkRow, 'replicaId' | 'changedAt'>;

/** Rows per INSERT: 6 parameters each. */
const ROWS_PER_INSERT = 500;

/**
 * The controller replicas sharing this database, which of them holds each
 * agent's stream (migration 11).
 */
export class ReplicasRepo {
  constructor(private readonly db: SqlDatabase) {}

  /** Says replica `id` is alive at `now` (wall clock). */
  async heartbeat(id: string, listen: string, startedAt: Date, now: Date): Promise<void> {
    await this.db.run(
      `INSERT INTO replicas (id, listen, started_at, seen_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET listen = excluded.listen, seen_at = excluded.seen_at`,
      [nonEmpty(id, 'replicaId'), listen, toEpochMs(startedAt, 'startedAt'), toEpochMs(now, 'now')],
    );
  }

  /** A replica that stops: the others stop counting it at once instead of after its silence. */
  async leave(id: string): Promise<void> {
    await this.db.run('DELETE FROM replicas WHERE id = ?', [id]);
  }

  async list(): Promise<ReplicaRow[]> {
    const rows = await this.db.all<{ id: string; listen: string; started_at: number; seen_at: number }>('SELECT id, listen, started_at, seen_at FROM replicas ORDER BY id');
    return rows.map((r) => ({ id: r.id, listen: r.listen, startedAt: new Date(r.started_at), seenAt: new Date(r.seen_at) }));
  }

  /**
   * Records what replica `replicaId` knows of these hosts' agent streams, in
   * one transaction. A live session always takes the row when it is newer
   * than the live one there (the agent moved to this replica, perhaps
   * before the old one noticed); a replica's word that a stream ended
   * changes only a row that is still its own, so a late close on the
   * replica an agent left never hides the agent's new stream elsewhere.
   */
  async writeLinks(replicaId: string, links: readonly AgentLinkWrite[], now: Date): Promise<void> {
    if (links.length === 0) return;
    const at = toEpochMs(now, 'now');
    const rows = links.map((l) => [nonEmpty(l.hostId, 'hostId'), replicaId, l.live ? 1 : 0, toEpochMs(l.connectedSince, 'connectedSince'), l.session, at]);
    await this.db.transaction(async () => {
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        const slice = rows.slice(i, i + ROWS_PER_INSERT);
        await this.db.run(
          `INSERT INTO agent_links (host_id, replica_id, live, connected_since, session_json, changed_at) VALUES ${slice.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}
           ON CONFLICT (host_id) DO UPDATE SET replica_id = excluded.replica_id, live = excluded.live, connected_since = excluded.connected_since,
             session_json = excluded.session_json, changed_at = excluded.changed_at
           WHERE agent_links.replica_id = excluded.replica_id
              OR (excluded.live = 1 AND (agent_links.live = 0 OR excluded.connected_since >= agent_links.connected_since))`,
          slice.flat(),
        );
      }
    });
  }

  /** Every host's agent link, whichever replica wrote it. */
  async links(): Promise<AgentLinkRow[]> {
    const rows = await this.db.all<{ host_id: string; replica_id: string; live: number; connected_since: number; session_json: string; changed_at: number }>(
      'SELECT host_id, replica_id, live, connected_since, session_json, changed_at FROM agent_links ORDER BY host_id',
    );
    return rows.map((r) => ({
      hostId: r.host_id,
      replicaId: r.replica_id,
      live: r.live === 1,
      connectedSince: new Date(r.connected_since),
      session: r.session_json,
      changedAt: new Date(r.changed_at),
    }));
  }
}
