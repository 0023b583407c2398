import type { DesiredState } from '../../proto/gen/cordon/v1/agent.js';
import type { DesiredStateSource } from '../agents/DesiredStates.js';
import type { Store } from '../store/Store.js';
import { toProtoState } from './toProtoState.js';

type Listener = (state: DesiredState) => void;

/**
 * Desired states read from SQLite, the one source of truth. After a commit
 * that changed a host, `changed(hostId)` re-reads it and pushes the new
 * snapshot to that host's connected agent; an agent that connects later gets
 * it from `get`. Level-based: a lost push is repaired by the next connect.
 */
export class StoreDesiredStates implements DesiredStateSource {
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    private readonly store: Store,
    private readonly smtpRelays: string[],
  ) {}

  async get(hostId: string): Promise<DesiredState | undefined> {
    const d = await this.store.desired.get(hostId);
    if (d.generation === 0) return undefined;
    return toProtoState(BigInt(d.generation), d.enforcements, d.issuedAt ?? new Date(), this.smtpRelays);
  }

  subscribe(hostId: string, listener: Listener): () => void {
    let set = this.listeners.get(hostId);
    if (!set) this.listeners.set(hostId, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Re-reads the host's state and pushes it to its agent, if connected. */
  async changed(hostId: string): Promise<void> {
    const listeners = this.listeners.get(hostId);
    if (!listeners || listeners.size === 0) return;
    const state = await this.get(hostId);
    if (state) for (const l of listeners) l(state);
  }
}
