import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Interface } from '../../proto/gen/cordon/v1/agent.js';

export type AgentConnectionState = 'connected' | 'stale' | 'disconnected';

/** What the controller knows of one agent's link, as of the last message. */
export interface AgentSessionView {
  hostId: string;
  state: AgentConnectionState;
  agentVersion: string;
  connectedSince: Date;
  lastHeartbeat: Date;
  disconnectedAt: Date | undefined;
  disconnectReason: string;
  generationHeld: bigint;
  observedDigest: string;
  peerAddress: string;
  interfaces: Interface[];
  heartbeatIntervalMs: number;
  lastRttMs: number | undefined;
  certificateSerial: string;
  /** Drift the agent found and put back since it started, as its last report said; undefined before one says. */
  driftRepairs: bigint | undefined;
  /** With replicas: the one holding (or last holding) the stream; undefined with a single controller. */
  replica?: string | undefined;
}

/**
 * Who reads agent sessions (the desk, metrics, the switch fallback): this
 * controller's own registry, or with several replicas the whole fleet's
 * (replicas/FleetSessions).
 */
export interface AgentSessions {
  get(hostId: string): AgentSessionView | undefined;
  list(): AgentSessionView[];
}

/**
 * One agent's session: a class, so that every session is built by one
 * constructor with one hidden class. Built by spreading the opener's object
 * with fields that later went from undefined to a number, a bigint or a
 * Date, sessions kept arriving with deprecated maps: the second's sweep over
 * 10,000 of them missed its inline caches on every read and migrated
 * objects as it went, a tenth of the idle controller's CPU in a perf profile
 * (BENCHMARKS §2).
 */
class Session {
  readonly hostId: string;
  readonly agentVersion: string;
  readonly connectedSince: Date;
  /**
   * Epoch ms, not a Date: a heartbeat writes a number in place. Anything new
   * a heartbeat leaves on the session lives until the next one, long enough
   * to be promoted to the old generation, and with 10,000 agents that was a
   * steady stream of work for the major collector (BENCHMARKS §2).
   */
  lastHeartbeatMs: number;
  disconnectedAt: Date | undefined = undefined;
  disconnectReason = '';
  generationHeld: bigint;
  observedDigest: string;
  readonly peerAddress: string;
  readonly interfaces: Interface[];
  /** The interval its staleness counts in now: the restricted one while its host's desired state holds an enforcement. */
  heartbeatIntervalMs: number;
  readonly idleIntervalMs: number;
  readonly restrictedIntervalMs: number;
  lastRttMs: number | undefined = undefined;
  readonly certificateSerial: string;
  driftRepairs: bigint | undefined = undefined;
  /** Ends the stream that carries this session. */
  readonly close: (why: CordonError) => void;

  constructor(
    info: OpenSession,
    readonly token: number,
    now: Date,
  ) {
    this.hostId = info.hostId;
    this.agentVersion = info.agentVersion;
    this.connectedSince = now;
    this.lastHeartbeatMs = now.getTime();
    this.generationHeld = info.generationHeld;
    this.observedDigest = info.observedDigest;
    this.peerAddress = info.peerAddress;
    this.interfaces = info.interfaces;
    this.heartbeatIntervalMs = info.heartbeatIntervalMs;
    this.idleIntervalMs = info.heartbeatIntervalMs;
    this.restrictedIntervalMs = Math.min(info.restrictedHeartbeatIntervalMs ?? info.heartbeatIntervalMs, info.heartbeatIntervalMs);
    this.certificateSerial = info.certificateSerial;
    this.close = info.close;
  }

  view(state: AgentConnectionState): AgentSessionView {
    return {
      hostId: this.hostId,
      state,
      agentVersion: this.agentVersion,
      connectedSince: this.connectedSince,
      lastHeartbeat: new Date(this.lastHeartbeatMs),
      disconnectedAt: this.disconnectedAt,
      disconnectReason: this.disconnectReason,
      generationHeld: this.generationHeld,
      observedDigest: this.observedDigest,
      peerAddress: this.peerAddress,
      interfaces: this.interfaces,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      lastRttMs: this.lastRttMs,
      certificateSerial: this.certificateSerial,
      driftRepairs: this.driftRepairs,
    };
  }
}

export interface OpenSession {
  hostId: string;
  agentVersion: string;
  generationHeld: bigint;
  observedDigest: string;
  peerAddress: string;
  interfaces: Interface[];
  heartbeatIntervalMs: number;
  /** Its interval while its host is restricted (default heartbeatIntervalMs; never longer). */
  restrictedHeartbeatIntervalMs?: number;
  certificateSerial: string;
  close: (why: CordonError) => void;
}

/**
 * The controller's table of agent sessions: one per host. A newer stream for
 * the same host supersedes the older one (the agent reconnected before the
 * old TCP connection was noticed dead). State is derived from the injected
 * clock when read, so staleness needs no timer to be correct.
 */
export class SessionRegistry implements AgentSessions {
  private readonly sessions = new Map<string, Session>();
  private nextToken = 1;
  private staleSeen = new Set<string>();
  /** Hosts whose session is open now (connected or stale), kept as they open and close. */
  private openSessions = 0;

  constructor(
    private readonly clock: () => Date,
    private readonly staleAfterMissed: number,
    /**
     * Told the host whose session opened, closed, reported, or went stale or
     * recovered (at `sweep`); not on heartbeats, which change only ages.
     * Must be cheap and not throw: it runs on the link's path.
     */
    private readonly onChange: (hostId: string) => void = () => undefined,
  ) {}

  /** Registers a session; returns the token that later calls must present. */
  open(info: OpenSession): number {
    const previous = this.sessions.get(info.hostId);
    const now = this.clock();
    const token = this.nextToken++;
    this.sessions.set(info.hostId, new Session(info, token, now));
    if (previous && previous.disconnectedAt === undefined) {
      previous.close(new CordonError('conflict', 'superseded by a newer connection from the same host'));
    } else {
      this.openSessions++;
    }
    this.onChange(info.hostId);
    return token;
  }

  /** Records a heartbeat; ignored when `token` belongs to a superseded session. */
  heartbeat(hostId: string, token: number, update: { generationHeld: bigint; observedDigest: string; rttMs?: number }): void {
    const s = this.current(hostId, token);
    if (!s) return;
    s.lastHeartbeatMs = this.clock().getTime();
    // The same values again as new objects: keep the ones held (see lastHeartbeatMs).
    if (s.generationHeld !== update.generationHeld) s.generationHeld = update.generationHeld;
    if (s.observedDigest !== update.observedDigest) s.observedDigest = update.observedDigest;
    if (update.rttMs !== undefined) s.lastRttMs = update.rttMs;
  }

  /**
   * Whether the host's desired state holds an enforcement: its staleness
   * counts at the restricted interval from now on, from its last heartbeat.
   */
  restricted(hostId: string, token: number, restricted: boolean): void {
    const s = this.current(hostId, token);
    if (!s) return;
    const interval = restricted ? s.restrictedIntervalMs : s.idleIntervalMs;
    if (interval === s.heartbeatIntervalMs) return;
    s.heartbeatIntervalMs = interval;
    // Other replicas judge this session's staleness from what this one records of it.
    this.onChange(hostId);
  }

  /** Records what a report says the agent holds, and its drift repairs when the report counts them. */
  report(hostId: string, token: number, update: { generationHeld: bigint; observedDigest: string; driftRepairs?: bigint | undefined }): void {
    const s = this.current(hostId, token);
    if (!s) return;
    s.lastHeartbeatMs = this.clock().getTime();
    s.generationHeld = update.generationHeld;
    s.observedDigest = update.observedDigest;
    if (update.driftRepairs !== undefined) s.driftRepairs = update.driftRepairs;
    this.onChange(hostId);
  }

  /** Marks the session gone; a superseded session's close changes nothing. */
  closed(hostId: string, token: number, reason: string): void {
    const s = this.current(hostId, token);
    if (!s) return;
    s.disconnectedAt = this.clock();
    s.disconnectReason = reason;
    this.openSessions--;
    this.onChange(hostId);
  }

  /**
   * Ends the stream of every open session whose certificate `refused` turns
   * down (it returns the reason, e.g. a revoked serial), with a `permission`
   * error naming it. Returns the hosts whose sessions it ended. Idempotent:
   * an ended session is not ended twice.
   */
  closeRefused(refused: (certificateSerial: string) => string | undefined): { hostId: string; reason: string }[] {
    const ended: { hostId: string; reason: string }[] = [];
    for (const s of this.sessions.values()) {
      if (s.disconnectedAt !== undefined) continue;
      const reason = refused(s.certificateSerial);
      if (!reason) continue;
      s.close(new CordonError('permission', reason));
      ended.push({ hostId: s.hostId, reason });
    }
    return ended;
  }

  /** Ends every open session's stream, e.g. at shutdown. */
  closeAll(reason: string): void {
    for (const s of this.sessions.values()) if (s.disconnectedAt === undefined) s.close(new CordonError('transient', reason));
  }

  /**
   * Hosts whose agent became stale since the previous call, and those that
   * recovered; for a periodic sweep that logs (and later alerts on) changes.
   */
  sweep(): { stale: string[]; recovered: string[] } {
    const at = this.clock().getTime();
    const now = new Set<string>();
    const missed = this.staleAfterMissed;
    for (const s of this.sessions.values()) {
      if (s.disconnectedAt === undefined && at - s.lastHeartbeatMs > missed * s.heartbeatIntervalMs) now.add(s.hostId);
    }
    const stale = [...now].filter((h) => !this.staleSeen.has(h));
    const recovered = [...this.staleSeen].filter((h) => !now.has(h) && this.stateOf(this.sessions.get(h)!, at) === 'connected');
    this.staleSeen = now;
    for (const hostId of stale) this.onChange(hostId);
    for (const hostId of recovered) this.onChange(hostId);
    return { stale, recovered };
  }

  /** How many hosts hold an open session now, without walking the table. */
  openCount(): number {
    return this.openSessions;
  }

  get(hostId: string): AgentSessionView | undefined {
    const s = this.sessions.get(hostId);
    return s ? this.view(s) : undefined;
  }

  list(): AgentSessionView[] {
    return [...this.sessions.values()].map((s) => this.view(s)).sort((a, b) => a.hostId.localeCompare(b.hostId));
  }

  private current(hostId: string, token: number): Session | undefined {
    const s = this.sessions.get(hostId);
    return s && s.token === token && s.disconnectedAt === undefined ? s : undefined;
  }

  private view(s: Session): AgentSessionView {
    return s.view(this.stateOf(s, this.clock().getTime()));
  }

  private stateOf(s: Session, nowMs: number): AgentConnectionState {
    if (s.disconnectedAt !== undefined) return 'disconnected';
    const silentMs = nowMs - s.lastHeartbeatMs;
    return silentMs > this.staleAfterMissed * s.heartbeatIntervalMs ? 'stale' : 'connected';
  }
}
