import type { ReplicaRow } from '../store/ReplicasRepo.js';

/**
 * Whether replica `id` sorts first (byte order) among the replicas seen
 * alive within `deadAfterMs` of `now` (wall clock): which replica does work
 * that one replica should do on a schedule of its own (the DNSBL checks).
 * Itself counts as alive whatever its row says. Two replicas can both
 * believe it for a moment (one joins with a smaller id while the other
 * starts a check): such work must also be safe to do twice.
 */
export async function isFirstLiveReplica(replicas: { list(): Promise<ReplicaRow[]> }, id: string, now: Date, deadAfterMs: number): Promise<boolean> {
  const alive = (await replicas.list()).filter((r) => r.id === id || now.getTime() - r.seenAt.getTime() <= deadAfterMs).map((r) => r.id);
  return !alive.some((other) => other < id);
}
