import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../proto/runtime/logger.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { AgentSessions, SessionRegistry } from '../agents/SessionRegistry.js';
import { DrillClock, type Clock } from '../clock.js';
import type { StoreDesiredStates } from '../dispatch/StoreDesiredStates.js';
import type { Store } from '../store/Store.js';
import { DEFAULT_FLEET_SETTINGS, FleetSessions, type FleetSessionsSettings } from './FleetSessions.js';
import { ReplicaBus } from './ReplicaBus.js';
import { ReplicaPushes } from './ReplicaPushes.js';
import { shareDrillClock } from './shareDrillClock.js';

/** How often at most a replica tells the others' desk pages that it committed something. */
const CHANGES_EVERY_MS = 250;

export interface ReplicaSettings {
  /** The PostgreSQL URL the store uses: the notification connection opens its own session there. */
  url: string;
  /** This replica's name in `replicas` and in logs; unique among running replicas (default: host name, pid and a random suffix). */
  id?: string | undefined;
  /** How others reach this replica's agent listener, for people reading `replicas` (informational). */
  listen: string;
  /** How often each replica re-checks its agents against the database, in case a notification was lost (default 5 s). */
  recheckMs?: number | undefined;
  fleet?: Partial<FleetSessionsSettings> | undefined;
}

export interface Replica {
  readonly id: string;
  readonly agents: AgentSessions & { replicaOf(hostId: string): string | undefined };
  /** A commit here changed the host's desired state. */
  hostChanged(hostId: string): void;
  /** This replica's registry changed for the host. */
  agentChanged(hostId: string): void;
  /** Hosts were added or changed here. */
  inventoryChanged(): void;
  /** A commit here changed the store (the others' open desk pages re-read, at most every CHANGES_EVERY_MS). */
  committed(): void;
  /** Re-checks this replica's agents against the database now; returns how many were behind. */
  recheck(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Joins the replicas on one PostgreSQL database: listens to the others,
 * shares which agents this one holds, relays desired-state changes to the
 * replica holding each agent, and keeps the drill clock in step.
 */
export async function startReplica(d: {
  settings: ReplicaSettings;
  store: Store;
  desired: StoreDesiredStates;
  local: () => SessionRegistry | undefined;
  clock: Clock;
  wall: Clock;
  log: Logger;
  /** Another replica's agents changed, or it committed something: open desk pages here re-read. */
  onAgentsChanged: () => void;
  onInventoryChanged: () => void;
  onClockMoved: () => void;
}): Promise<Replica> {
  if (d.store.db.dialect !== 'postgresql') throw new CordonError('invalid', 'replicas share a PostgreSQL store: set store.url', { field: 'store.url' });
  const id = d.settings.id || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const log = d.log.child({ replica: id });
  const bus = new ReplicaBus(d.settings.url, d.store.db, log);
  await bus.start();
  const fleet = new FleetSessions({
    replicaId: id,
    listen: d.settings.listen,
    repo: d.store.replicas,
    bus,
    local: d.local,
    wall: d.wall,
    log,
    settings: { ...DEFAULT_FLEET_SETTINGS, ...d.settings.fleet },
    onRemoteChange: d.onAgentsChanged,
  });
  const pushes = new ReplicaPushes({ replicaId: id, bus, desired: d.desired, generations: d.store.desired, local: d.local, log, recheckMs: d.settings.recheckMs ?? 5_000 });
  const clock = d.clock instanceof DrillClock
    ? shareDrillClock({ replicaId: id, clock: d.clock, audit: d.store.audit, bus, log, everyMs: 5_000, onMoved: d.onClockMoved })
    : undefined;
  bus.on('cordon_inventory', (p) => {
    if ((p as { r?: unknown } | null)?.r !== id) d.onInventoryChanged();
  });
  bus.on('cordon_changes', (p) => {
    if ((p as { r?: unknown } | null)?.r !== id) d.onAgentsChanged();
  });
  // Hosts added on another replica while a notification was lost still arrive here within a minute.
  bus.onResync(d.onInventoryChanged);
  const inventoryTimer = setInterval(d.onInventoryChanged, 60_000);
  try {
    await clock?.sync();
    await fleet.start();
    pushes.start();
  } catch (err) {
    clearInterval(inventoryTimer);
    clock?.stop();
    await bus.stop();
    throw err;
  }
  let changesTimer: NodeJS.Timeout | undefined;
  log.info('joined the replicas on the PostgreSQL store');
  return {
    id,
    agents: fleet,
    hostChanged: (hostId) => pushes.hostChanged(hostId),
    agentChanged: (hostId) => fleet.localChanged(hostId),
    inventoryChanged: () => void bus.publish('cordon_inventory', { r: id }).catch((err: Error) => log.warn({ err: err.message }, 'cannot tell the other replicas the hosts changed')),
    committed: () => {
      // A burst of commits is one notification: desk pages re-read everything anyway.
      changesTimer ??= setTimeout(() => {
        changesTimer = undefined;
        void bus.publish('cordon_changes', { r: id }).catch(() => undefined);
      }, CHANGES_EVERY_MS);
    },
    recheck: () => pushes.recheck(),
    async stop() {
      clearTimeout(changesTimer);
      clearInterval(inventoryTimer);
      clock?.stop();
      await pushes.stop();
      await fleet.stop().catch((err: Error) => log.warn({ err: err.message }, 'cannot record this replica leaving'));
      await bus.stop();
    },
  };
}
