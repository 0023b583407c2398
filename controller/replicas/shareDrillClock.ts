import type { Logger } from '../../proto/runtime/logger.js';
import { drillOffsetFromAudit, type DrillClock } from '../clock.js';
import type { AuditLog } from '../store/AuditLog.js';
import type { ReplicaBus } from './ReplicaBus.js';

/**
 * One drill time for every replica. The offset's source of truth is the
 * audit log (every move is a `clock.advance` entry, which is how a
 * restarted controller finds it too); a replica that moves its clock
 * tells the others, who re-read the log and catch up, and each re-reads it
 * on a timer in case a notification was lost. The clock only moves
 * forward, so replicas can only catch up, never pull one another back.
 */
export function shareDrillClock(d: {
  replicaId: string;
  clock: DrillClock;
  audit: Pick<AuditLog, 'list'>;
  bus: ReplicaBus;
  log: Logger;
  everyMs: number;
  /** Told after the clock caught up (the deadline scheduler re-plans). */
  onMoved: () => void;
}): { sync(): Promise<void>; stop(): void } {
  let syncing = false;
  const sync = async () => {
    const offset = await drillOffsetFromAudit(d.audit);
    if (offset <= d.clock.offsetMs) return;
    syncing = true;
    try {
      d.clock.advance(offset - d.clock.offsetMs);
    } finally {
      syncing = false;
    }
    d.log.info({ offsetSeconds: d.clock.offsetMs / 1000 }, 'drill clock caught up with another replica');
    d.onMoved();
  };
  const quietly = () => void sync().catch((err: Error) => d.log.warn({ err: err.message }, 'cannot read the drill clock'));
  d.clock.onAdvance(() => {
    if (!syncing) void d.bus.publish('cordon_clock', { r: d.replicaId }).catch((err: Error) => d.log.warn({ err: err.message }, 'cannot tell the other replicas the drill clock moved'));
  });
  d.bus.on('cordon_clock', (p) => {
    if ((p as { r?: unknown } | null)?.r !== d.replicaId) quietly();
  });
  d.bus.onResync(quietly);
  const timer = setInterval(quietly, d.everyMs);
  return { sync, stop: () => clearInterval(timer) };
}
