import type { Logger } from '../../proto/runtime/logger.js';
import type { SessionRegistry } from '../agents/SessionRegistry.js';
import type { StoreDesiredStates } from '../dispatch/StoreDesiredStates.js';
import type { DesiredStateRepo } from '../store/DesiredStateRepo.js';
import { MAX_PAYLOAD_BYTES, type ReplicaBus } from './ReplicaBus.js';

/**
 * Carries "this host's desired state changed" from the replica that
 * committed it to the replica holding the host's agent stream: a NOTIFY
 * of host ids (never the state: the receiver reads it from the database),
 * and, because a notification can be lost, a periodic re-check of this
 * replica's own agents against the database (and one after the
 * notification connection comes back).
 */
export class ReplicaPushes {
  private pending = new Set<string>();
  private publishing: Promise<void> = Promise.resolve();
  private queued = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly d: {
      replicaId: string;
      bus: ReplicaBus;
      desired: StoreDesiredStates;
      generations: Pick<DesiredStateRepo, 'generations'>;
      local: () => SessionRegistry | undefined;
      log: Logger;
      recheckMs: number;
    },
  ) {}

  start(): void {
    this.d.bus.on('cordon_hosts', (p) => {
      const msg = p as { r?: unknown; h?: unknown } | null;
      if (!msg || msg.r === this.d.replicaId || !Array.isArray(msg.h)) return;
      for (const h of msg.h) if (typeof h === 'string') this.push(h);
    });
    this.d.bus.onResync(() => void this.recheck());
    this.timer = setInterval(() => void this.recheck(), this.d.recheckMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.publishing;
  }

  /** A commit on this replica changed `hostId`'s desired state: tell the others (this one pushes by itself). */
  hostChanged(hostId: string): void {
    this.pending.add(hostId);
    if (this.queued) return;
    this.queued = true;
    this.publishing = this.publishing.then(async () => {
      // A mass action's hosts arrive in one burst: one turn of the event loop makes them a few notifications.
      await new Promise((r) => setImmediate(r));
      this.queued = false;
      const hosts = [...this.pending];
      this.pending.clear();
      for (const chunk of chunksUnder(hosts, MAX_PAYLOAD_BYTES - 64)) {
        await this.d.bus.publish('cordon_hosts', { r: this.d.replicaId, h: chunk }).catch((err: Error) =>
          // The others' re-check finds it within recheckMs.
          this.d.log.warn({ hosts: chunk.length, err: err.message }, 'cannot notify the other replicas of changed hosts'),
        );
      }
    });
  }

  /** Pushes again to each of this replica's agents whose held generation is behind the database's. */
  async recheck(): Promise<number> {
    const local = this.d.local();
    if (!local) return 0;
    const held = new Map(local.list().filter((s) => s.state !== 'disconnected').map((s) => [s.hostId, s.generationHeld]));
    if (held.size === 0) return 0;
    let behind = 0;
    try {
      for (const [hostId, generation] of await this.d.generations.generations([...held.keys()])) {
        if (BigInt(generation) > (held.get(hostId) ?? 0n)) {
          behind++;
          this.push(hostId);
        }
      }
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'cannot re-check agents against the desired states');
    }
    return behind;
  }

  private push(hostId: string): void {
    void this.d.desired.changed(hostId).catch((err: Error) => this.d.log.error({ host: hostId, err: err.message }, 'push failed'));
  }
}

/** `ids` in groups whose JSON stays under `bytes`. */
function chunksUnder(ids: string[], bytes: number): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let size = 0;
  for (const id of ids) {
    const n = Buffer.byteLength(JSON.stringify(id)) + 1;
    if (cur.length > 0 && size + n > bytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(id);
    size += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
