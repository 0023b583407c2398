import type { BanEvent, ListeningSocket, ListeningSockets, ManagedSecurity } from '../../proto/gen/cordon/v1/agent.js';
import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { Inventory } from '../inventory/Inventory.js';
import type { BanLedger, BanRecord, BanRecordOutcome } from './BanLedger.js';
import type { ListenerLedger } from './ListenerLedger.js';
import type { ManagedSecuritySettings } from './managedSecuritySettings.js';

/** What became of an agent's ban event: the ledger's outcome, or not recorded at all because the host did not take managed security. */
export type BanOutcome = BanRecordOutcome | 'not_covered';

/** What the agent link needs of managed security (handleAgentConnect). */
export interface ManagedSecuritySource {
  /** The host's policy, lifts included; undefined when the host did not take managed security. */
  policyFor(hostId: string): Promise<ManagedSecurity | undefined>;
  /** Calls `push` with the host's policy whenever it may have changed (a lift here, or the resync timer for one on another replica); returns the unsubscribe. */
  subscribe(hostId: string, push: (policy: ManagedSecurity) => void): () => void;
  /** An agent's ban event about its own host. */
  onBan(hostId: string, event: BanEvent): Promise<BanOutcome>;
  /** An agent's list of the sockets listening on its own host's public interfaces. */
  onListeners(hostId: string, list: ListeningSockets): Promise<unknown>;
}

/** What the desk's host page shows of managed security: whether the host took it, its bans in force, and new sockets not yet accepted. */
export interface HostSecurity {
  covered: boolean;
  bans: BanRecord[];
  pendingSockets: { socket: ListeningSocket; at: Date }[];
}

/**
 * Managed security per host: whether the host took it (listed itself, or its
 * customer is), the policy each agent gets, and the desired state's lifts
 * read back from the ban ledger. A lift made here is pushed at once to a
 * stream held here; every stream also re-reads its policy each resync
 * interval, which carries a lift made on another replica.
 */
export class ManagedSecurityPolicies implements ManagedSecuritySource {
  private readonly subscribers = new Map<string, Set<() => void>>();
  /** The last record in line per host (inTurn). */
  private readonly turns = new Map<string, Promise<void>>();

  constructor(
    private readonly settings: ManagedSecuritySettings,
    private readonly inventory: Inventory,
    readonly ledger: BanLedger,
    readonly sockets: ListenerLedger,
    private readonly clock: () => Date,
    private readonly log: Logger,
    /** Told of new sockets and of each new ban recorded (the customer's mail); absent: recorded only. */
    private readonly notify?: { newSockets(hostId: string, sockets: ListeningSocket[]): Promise<unknown>; banned(hostId: string): Promise<unknown> },
  ) {}

  /** Whether the host took managed security. */
  covers(hostId: string): boolean {
    const host = this.inventory.get(hostId);
    return host !== undefined && (this.settings.hosts.has(host.id) || this.settings.customers.has(host.customerId));
  }

  /** For the desk's host page: covered or not, the bans in force now, the new sockets the customer has not accepted. */
  async deskView(hostId: string): Promise<HostSecurity> {
    if (!this.covers(hostId)) return { covered: false, bans: [], pendingSockets: [] };
    const [bans, sockets] = await Promise.all([this.ledger.active(hostId, this.clock()), this.sockets.state(hostId)]);
    return { covered: true, bans, pendingSockets: sockets.pending.map((p) => ({ socket: p.socket, at: p.at })) };
  }

  async policyFor(hostId: string): Promise<ManagedSecurity | undefined> {
    if (!this.covers(hostId)) return undefined;
    const s = this.settings;
    return {
      enabled: true,
      acknowledgesBanEvents: true,
      services: s.services,
      baseBanSeconds: s.baseBanSeconds,
      maxBanSeconds: s.maxBanSeconds,
      forgetAfterSeconds: s.forgetAfterSeconds,
      allowed: s.allowed,
      liftedBanIds: await this.ledger.liftedIds(hostId, this.clock()),
      maxBans: s.maxBans,
      listenerCheckSeconds: s.listenerCheckSeconds,
      authFailures: s.authFailures,
      authWindowSeconds: s.authWindowSeconds,
      // The agent paces its ban events to what the ledger records, rather than have the rest dropped here.
      maxEventsPerMinute: s.maxEventsPerMinute,
    };
  }

  subscribe(hostId: string, push: (policy: ManagedSecurity) => void): () => void {
    let last = '';
    const refresh = () => {
      this.policyFor(hostId).then(
        (p) => {
          const key = JSON.stringify(p ?? null);
          if (!p || key === last) return;
          last = key;
          push(p);
        },
        (err: unknown) => this.log.error({ host: hostId, err: asCordonError(err).message }, 'cannot read the managed-security policy'),
      );
    };
    // The first read is the one sent after the Hello; the timer and lifts only send what changed since.
    void this.policyFor(hostId).then((p) => (last = JSON.stringify(p ?? null)), () => undefined);
    const set = this.subscribers.get(hostId) ?? new Set();
    set.add(refresh);
    this.subscribers.set(hostId, set);
    const timer = setInterval(refresh, this.settings.resyncSeconds * 1000);
    timer.unref();
    return () => {
      clearInterval(timer);
      set.delete(refresh);
      if (set.size === 0) this.subscribers.delete(hostId);
    };
  }

  /** A lift was recorded for the host: streams held here get the new policy now. */
  changed(hostId: string): void {
    for (const refresh of this.subscribers.get(hostId) ?? []) refresh();
  }

  onListeners(hostId: string, list: ListeningSockets): Promise<unknown> {
    return this.inTurn(hostId, () => this.takeListeners(hostId, list));
  }

  onBan(hostId: string, event: BanEvent): Promise<BanOutcome> {
    return this.inTurn(hostId, () => this.recordBan(hostId, event));
  }

  /**
   * One host's records one after another: each reads the ledger, then
   * appends to it, and the stream does not wait for them, so two lists sent
   * close together were both taken as the first (two baselines, the new
   * socket never reported).
   */
  private inTurn<T>(hostId: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.turns.get(hostId) ?? Promise.resolve()).then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.turns.set(hostId, tail);
    void tail.then(() => {
      if (this.turns.get(hostId) === tail) this.turns.delete(hostId);
    });
    return run;
  }

  private async takeListeners(hostId: string, list: ListeningSockets): Promise<unknown> {
    if (!this.covers(hostId) || this.settings.listenerCheckSeconds === 0) return [];
    const fresh = await this.sockets.take(hostId, list, this.clock());
    if (fresh.length > 0) {
      this.log.warn({ host: hostId, sockets: fresh.map((s) => `${s.protocol} ${s.address}:${s.port} ${s.process}`) }, 'new listening sockets on a public interface');
      await this.notify?.newSockets(hostId, fresh);
    }
    return fresh;
  }

  private async recordBan(hostId: string, event: BanEvent): Promise<BanOutcome> {
    // An agent of a host that did not take managed security has nothing to record.
    if (!this.covers(hostId)) return 'not_covered';
    const outcome = await this.ledger.record(hostId, event, this.clock());
    if (outcome === 'recorded' && event.change === 'banned') await this.notify?.banned(hostId);
    return outcome;
  }
}
