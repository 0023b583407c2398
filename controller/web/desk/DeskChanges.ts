import { EventEmitter } from 'node:events';

/**
 * "Something changed" for open desk pages, in process: fed by every store
 * commit that changed rows (Database.onCommit, whoever wrote: the incident
 * service, DeskService calls that write directly, intake, workers) and by
 * agents' sessions opening, reporting, going stale or away (SessionRegistry),
 * and read by the live-update streams. It carries no
 * content — a page that hears of a change re-reads itself through the same
 * desk handlers — so a missed or merged signal loses nothing but a reload.
 * Bursts are merged: listeners hear at most once per `coalesceMs`.
 */
export class DeskChanges {
  private readonly emitter = new EventEmitter();
  private pending: NodeJS.Timeout | undefined;

  constructor(private readonly coalesceMs = 100) {
    // One listener per open stream; the streams are bounded by web.desk.maxEventClients, not here.
    this.emitter.setMaxListeners(0);
  }

  private changed = 0;

  /**
   * Grows at once with every notify (before the coalesced signal): a page
   * that kept a read under one version knows it is stale the moment a
   * commit lands, even within the coalescing window.
   */
  get version(): number {
    return this.changed;
  }

  /** Says that something changed; cheap, never throws, safe to call from any hook. */
  notify(): void {
    this.changed++;
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.emitter.emit('change');
    }, this.coalesceMs);
    this.pending.unref();
  }

  /** Calls `listener` after changes; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  get listeners(): number {
    return this.emitter.listenerCount('change');
  }
}
