import type { DesiredState } from '../../proto/gen/cordon/v1/agent.js';
import type { DesiredStateSource } from '../agents/DesiredStates.js';
import type { Store } from '../store/Store.js';
import { toProtoState } from './toProtoState.js';

type Listener = (state: DesiredState) => void;

/**
 * Desired states read from the store, the one source of truth. After a commit
 * that changed a host, `changed(hostId)` re-reads it and pushes the new
 * snapshot to that host's connected agent; an agent that connects later gets
 * it from `get`. Level-based: a lost push is repaired by the next connect.
 */
export class StoreDesiredStates implements DesiredStateSource {
  private readonly listeners = new Map<string, Set<Listener>>();
  private pending = new Map<string, Waiter<void>[]>();
  private hellos = new Map<string, Waiter<DesiredState | undefined>[]>();
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly smtpRelays: string[],
  ) {}

  /**
   * The host's state for an agent that just said Hello. The Hellos of one
   * turn of the event loop are read together, like pushes: in a reconnect
   * storm hundreds arrive a second, and one read-only transaction each (four
   * trips to the database's thread) was a share of every reconnection's CPU.
   */
  get(hostId: string): Promise<DesiredState | undefined> {
    return new Promise((resolve, reject) => {
      if (!gather(this.hellos, hostId, { resolve, reject })) return;
      setImmediate(() => {
        const batch = this.hellos;
        this.hellos = new Map();
        void this.read(batch, (_h, state) => state);
      });
    });
  }

  subscribe(hostId: string, listener: Listener): () => void {
    let set = this.listeners.get(hostId);
    if (!set) this.listeners.set(hostId, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Re-reads the host's state and pushes it to its agent, if connected;
   * resolves once pushed. Hosts changed in the same turn of the event loop
   * (a mass action's, another replica's notification) are read together, a
   * thousand per read-only transaction, rather than one transaction each;
   * batches are read and pushed one after another, so a later read never
   * overtakes an earlier one.
   */
  changed(hostId: string): Promise<void> {
    const listeners = this.listeners.get(hostId);
    if (!listeners || listeners.size === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      if (!gather(this.pending, hostId, { resolve, reject })) return;
      setImmediate(() => {
        const batch = this.pending;
        this.pending = new Map();
        this.flushing = this.flushing.then(() => this.flush(batch));
      });
    });
  }

  /**
   * Resolves once every push asked for so far has been read and written to
   * its agent: for the work a commit also starts (mail, deadlines), which
   * would otherwise queue its reads on the one database connection ahead of
   * the pushes. Never rejects.
   */
  settled(): Promise<void> {
    // After the immediate that `changed` scheduled, so its batch is on the chain.
    return new Promise((resolve) => setImmediate(() => void this.flushing.then(resolve, resolve)));
  }

  /** Pushes each host's state read in `read` to its agent's listeners. */
  private flush(batch: Map<string, Waiter<void>[]>): Promise<void> {
    return this.read(batch, (h, state) => {
      if (state) for (const l of this.listeners.get(h) ?? []) l(state);
    });
  }

  /**
   * Reads the batch's hosts, a thousand per read-only transaction, and
   * resolves each host's waiters with `answer` for its state (undefined:
   * never restricted). A failed read fails its chunk's callers; one host's
   * bad row or failing answer is its own callers' to report; the rest go on.
   */
  private async read<T>(batch: Map<string, Waiter<T>[]>, answer: (hostId: string, state: DesiredState | undefined) => T): Promise<void> {
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += BATCH) {
      const chunk = ids.slice(i, i + BATCH);
      let states: Awaited<ReturnType<Store['desired']['getMany']>>;
      try {
        states = await this.store.desired.getMany(chunk);
      } catch (err) {
        for (const h of chunk) for (const w of batch.get(h)!) w.reject(err);
        continue;
      }
      for (const h of chunk) {
        try {
          const d = states.get(h)!;
          const value = answer(h, d.generation === 0 ? undefined : toProtoState(BigInt(d.generation), d.enforcements, d.issuedAt ?? new Date(), this.smtpRelays));
          for (const w of batch.get(h)!) w.resolve(value);
        } catch (err) {
          for (const w of batch.get(h)!) w.reject(err);
        }
      }
    }
  }
}

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

/** Adds a caller to the batch being gathered; true when it is the batch's first (the caller schedules the read). */
function gather<T>(batch: Map<string, Waiter<T>[]>, hostId: string, waiter: Waiter<T>): boolean {
  const waiting = batch.get(hostId);
  if (waiting) waiting.push(waiter);
  else batch.set(hostId, [waiter]);
  return batch.size === 1 && !waiting;
}

/** Hosts read per transaction when pushing or answering Hellos. */
const BATCH = 1000;
