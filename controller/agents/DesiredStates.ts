import type { DesiredState, Enforcement } from '../../proto/gen/cordon/v1/agent.js';

type Listener = (state: DesiredState) => void;

/**
 * The desired state of each host: a full snapshot whose generation only
 * grows. The controller reads it from SQLite (dispatch/StoreDesiredStates);
 * this in-memory one serves tests of the agent link.
 */
export interface DesiredStateSource {
  get(hostId: string): Promise<DesiredState | undefined>;
  /** Calls `listener` with every new snapshot for the host; returns an unsubscribe function. */
  subscribe(hostId: string, listener: Listener): () => void;
}

/** Desired states held in memory, for tests of the link. */
export class MemoryDesiredStates implements DesiredStateSource {
  private readonly states = new Map<string, DesiredState>();
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly clock: () => Date) {}

  async get(hostId: string): Promise<DesiredState | undefined> {
    return this.states.get(hostId);
  }

  /** Replaces the host's enforcements with a new snapshot one generation up. */
  set(hostId: string, enforcements: Enforcement[]): DesiredState {
    const previous = this.states.get(hostId)?.generation ?? 0n;
    const state: DesiredState = { generation: previous + 1n, enforcements, issuedAt: this.clock() };
    this.states.set(hostId, state);
    for (const listener of this.listeners.get(hostId) ?? []) listener(state);
    return state;
  }

  subscribe(hostId: string, listener: Listener): () => void {
    let set = this.listeners.get(hostId);
    if (!set) this.listeners.set(hostId, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }
}
