import { readFileSync, statSync } from 'node:fs';
import { normaliseSerial } from '../../proto/runtime/peerIdentity.js';

/**
 * Certificate serials the operators revoked (`cordon-pki revoke`), read from a
 * plain file and re-read whenever its mtime or size changes, so revoking takes
 * effect on the next call without a restart. Checked on every call, on
 * every message of an agent stream, and by the controller's revocation sweep
 * (every second) that ends open streams and connections of revoked serials,
 * because grpc-js offers no CRL hook in the handshake.
 *
 * Every check reads the file's status, except that checks made in one
 * synchronous run share one read: the sweep goes over every session in
 * one loop, and with 10,000 agents a stat per session was 10,000 system
 * calls a second, a quarter of the controller's idle CPU. A message that
 * arrives after the revocation is always checked against it.
 *
 * A file that cannot be read fails closed: every certificate counts as
 * revoked until it can be read again, since a vanished list must not
 * readmit revoked agents.
 */
export class RevocationList {
  private serials = new Set<string>();
  private stamp = '';
  private unreadable: string | undefined;
  /** The file's status was read in the current synchronous run (cleared when it ends). */
  private fresh = false;

  constructor(private readonly path: string) {}

  /** Throws nothing; returns the reason a certificate is not acceptable, if any. */
  check(serial: string): string | undefined {
    if (!this.path) return undefined;
    this.refresh();
    if (this.unreadable) return `the revocation list ${this.path} cannot be read (${this.unreadable})`;
    if (this.serials.size === 0) return undefined;
    return this.serials.has(normaliseSerial(serial)) ? `certificate serial ${normaliseSerial(serial)} is revoked` : undefined;
  }

  /**
   * The reason when `serial` itself is on the list, else undefined. Unlike
   * `check`, an unreadable list is not a refusal here: this is for ending
   * connections already admitted, which keep to the last list read rather
   * than all dropping at once over a file that is briefly missing.
   */
  revoked(serial: string): string | undefined {
    if (!this.path) return undefined;
    this.refresh();
    // The common case, checked for every session each second: nothing revoked, nothing to normalise.
    if (this.serials.size === 0) return undefined;
    return this.serials.has(normaliseSerial(serial)) ? `certificate serial ${normaliseSerial(serial)} is revoked` : undefined;
  }

  /** Whether the list names any serial now: with none, the sweep has no open connection to look at. */
  anyRevoked(): boolean {
    if (!this.path) return false;
    this.refresh();
    return this.serials.size > 0;
  }

  private refresh(): void {
    if (this.fresh) return;
    this.fresh = true;
    // Cleared once this synchronous run is over, before anything else runs. Not setImmediate: an immediate
    // pending makes the event loop turn again without waiting, one more epoll_wait for every heartbeat,
    // and system calls are what the idle controller spends most on (BENCHMARKS §2).
    queueMicrotask(() => (this.fresh = false));
    try {
      const st = statSync(this.path);
      const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (stamp === this.stamp) return;
      const lines = readFileSync(this.path, 'utf8').split('\n');
      this.serials = new Set(
        lines.map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).map((l) => normaliseSerial(l)),
      );
      this.stamp = stamp;
      this.unreadable = undefined;
    } catch (err) {
      this.unreadable = (err as NodeJS.ErrnoException).code ?? String(err);
      this.stamp = '';
    }
  }
}

