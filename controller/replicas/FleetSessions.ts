import type { Logger } from '../../proto/runtime/logger.js';
import type { AgentSessions, AgentSessionView, SessionRegistry } from '../agents/SessionRegistry.js';
import type { Clock } from '../clock.js';
import type { AgentLinkWrite, ReplicasRepo } from '../store/ReplicasRepo.js';
import { sessionFromJson, sessionToJson } from './sessionJson.js';
import type { ReplicaBus } from './ReplicaBus.js';

export interface FleetSessionsSettings {
  /** How often this replica says it is alive. */
  heartbeatMs: number;
  /** A replica silent this long is gone: its agents count as disconnected since it was last seen. */
  deadAfterMs: number;
  /** How often the others' rows are re-read even without a notification. */
  refreshMs: number;
}

const REFRESH_GAP_MS = 100;

export const DEFAULT_FLEET_SETTINGS: FleetSessionsSettings = { heartbeatMs: 2_000, deadAfterMs: 10_000, refreshMs: 5_000 };

interface Remote {
  view: AgentSessionView;
  replicaId: string;
}

/**
 * The whole fleet's agent sessions, as every replica sees them: this
 * replica's own streams from its registry, the others' from `agent_links`.
 * Writes what its registry changes (a session opened, reported, went stale,
 * ended) in batches, says it is alive, and re-reads the others' rows on
 * their notification and on a timer. A session held by a replica that
 * stopped saying it is alive reads as disconnected since it was last seen:
 * the switch fallback acts only when no live replica holds the agent.
 */
export class FleetSessions implements AgentSessions {
  private remote = new Map<string, Remote>();
  private readonly dirty = new Set<string>();
  private flushing: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private refreshQueued = false;
  private refreshing: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt: Date;

  constructor(
    private readonly d: {
      replicaId: string;
      listen: string;
      repo: ReplicasRepo;
      bus: ReplicaBus;
      local: () => SessionRegistry | undefined;
      wall: Clock;
      log: Logger;
      settings: FleetSessionsSettings;
      /** Told when another replica's agents changed (the desk's pages re-read). */
      onRemoteChange: () => void;
    },
  ) {
    this.startedAt = d.wall.now();
  }

  async start(): Promise<void> {
    await this.heartbeat();
    await this.refresh();
    this.d.bus.on('cordon_agents', (p) => {
      if ((p as { r?: unknown } | null)?.r !== this.d.replicaId) this.refreshSoon();
    });
    this.d.bus.onResync(() => this.refreshSoon());
    const every = (ms: number, fn: () => Promise<void>, what: string) =>
      this.timers.push(setInterval(() => void fn().catch((err: Error) => this.d.log.warn({ err: err.message }, what)), ms));
    every(this.d.settings.heartbeatMs, () => this.heartbeat(), 'cannot say this replica is alive');
    every(this.d.settings.refreshMs, () => this.refresh(), 'cannot read the fleet');
  }

  /** This replica's registry changed for `hostId` (SessionRegistry's onChange). */
  localChanged(hostId: string): void {
    this.dirty.add(hostId);
    this.scheduleFlush();
  }

  /** Writes what is pending, says this replica is leaving, and stops. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.flushing;
    await this.flush();
    await this.d.repo.leave(this.d.replicaId);
  }

  get(hostId: string): AgentSessionView | undefined {
    const local = this.d.local()?.get(hostId);
    const remote = this.remote.get(hostId);
    return pick(local && { ...local, replica: this.d.replicaId }, remote && { ...remote.view, replica: remote.replicaId });
  }

  list(): AgentSessionView[] {
    const ids = new Set([...(this.d.local()?.list() ?? []).map((s) => s.hostId), ...this.remote.keys()]);
    return [...ids]
      .sort()
      .map((id) => this.get(id))
      .filter((s): s is AgentSessionView => s !== undefined);
  }

  /** Which replica holds the host's live stream, when one does. */
  replicaOf(hostId: string): string | undefined {
    const local = this.d.local()?.get(hostId);
    if (local && local.state !== 'disconnected') return this.d.replicaId;
    const r = this.remote.get(hostId);
    return r && r.view.state !== 'disconnected' ? r.replicaId : undefined;
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.flushing = this.flushing.then(async () => {
      // One turn of the event loop gathers a burst (a reconnect storm) into one write.
      await new Promise((r) => setImmediate(r));
      this.flushQueued = false;
      await this.flush().catch((err: Error) => this.d.log.warn({ err: err.message }, 'cannot record agent sessions for the other replicas'));
    });
  }

  private async flush(): Promise<void> {
    const local = this.d.local();
    if (!local || this.dirty.size === 0) return;
    const hosts = [...this.dirty];
    this.dirty.clear();
    const writes: AgentLinkWrite[] = [];
    for (const hostId of hosts) {
      const s = local.get(hostId);
      if (s) writes.push({ hostId, live: s.state !== 'disconnected', connectedSince: s.connectedSince, session: sessionToJson(s) });
    }
    try {
      await this.d.repo.writeLinks(this.d.replicaId, writes, this.d.wall.now());
    } catch (err) {
      for (const h of hosts) this.dirty.add(h); // written next time
      throw err;
    }
    await this.d.bus.publish('cordon_agents', { r: this.d.replicaId });
  }

  /**
   * A reconnect storm on another replica is a stream of notifications: they
   * coalesce into at most one re-read per REFRESH_GAP_MS, each reading the
   * rows as they are by then.
   */
  private refreshSoon(): void {
    if (this.refreshQueued) return;
    this.refreshQueued = true;
    setTimeout(() => {
      this.refreshQueued = false;
      this.refreshing = this.refreshing
        .then(() => this.refresh())
        .catch((err: Error) => this.d.log.warn({ err: err.message }, 'cannot read the fleet'));
    }, REFRESH_GAP_MS);
  }

  private async heartbeat(): Promise<void> {
    await this.d.repo.heartbeat(this.d.replicaId, this.d.listen, this.startedAt, this.d.wall.now());
  }

  private async refresh(): Promise<void> {
    const [replicas, links] = await Promise.all([this.d.repo.list(), this.d.repo.links()]);
    const now = this.d.wall.now().getTime();
    const seen = new Map(replicas.map((r) => [r.id, r.seenAt]));
    const next = new Map<string, Remote>();
    for (const l of links) {
      if (l.replicaId === this.d.replicaId) continue;
      let view = sessionFromJson(l.hostId, l.session);
      if (!view) continue;
      const lastSeen = seen.get(l.replicaId);
      if (l.live && (lastSeen === undefined || now - lastSeen.getTime() > this.d.settings.deadAfterMs)) {
        const since = lastSeen ?? l.changedAt;
        view = { ...view, state: 'disconnected', disconnectedAt: since, disconnectReason: `its controller replica ${l.replicaId} stopped (last seen ${since.toISOString()})` };
      }
      next.set(l.hostId, { view, replicaId: l.replicaId });
    }
    const changed = next.size !== this.remote.size || [...next].some(([h, r]) => { const o = this.remote.get(h); return !o || o.view.state !== r.view.state || o.replicaId !== r.replicaId; });
    this.remote = next;
    if (changed) this.d.onRemoteChange();
  }
}

/** The live one of a local and a remote view; with neither live, the one that ended last. */
function pick(local: AgentSessionView | undefined, remote: AgentSessionView | undefined): AgentSessionView | undefined {
  if (local && local.state !== 'disconnected') return local;
  if (remote && remote.state !== 'disconnected') return remote;
  if (!local || !remote) return local ?? remote;
  return (remote.disconnectedAt?.getTime() ?? 0) > (local.disconnectedAt?.getTime() ?? 0) ? remote : local;
}
