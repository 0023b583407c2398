import type { Logger } from '../../proto/runtime/logger.js';

export interface HandshakeRefusalLogOptions {
  /** At most one line per source address within this window (default one minute). */
  perAddressMs?: number;
  /** Addresses remembered at once; beyond this new addresses are only counted, so a scan cannot grow memory. */
  maxAddresses?: number;
}

/**
 * Logs refused TLS handshakes (a certificate from another CA, none at all, a
 * broken or timed-out handshake) without letting a scanner or a
 * misconfigured fleet flood the log: at most one line per source address
 * per window, and `summarise` (called once per window) writes one line
 * counting what was refused but not logged. Not thread-safe; needs none.
 */
export class HandshakeRefusalLog {
  private readonly lastLine = new Map<string, number>();
  private readonly perAddressMs: number;
  private readonly maxAddresses: number;
  private refused = 0;
  private notLogged = 0;
  private readonly addresses = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    opts: HandshakeRefusalLogOptions = {},
  ) {
    this.perAddressMs = opts.perAddressMs ?? 60_000;
    this.maxAddresses = opts.maxAddresses ?? 10_000;
  }

  /** Records one refused handshake from `address`; logs it unless that address was logged within the window. */
  refuse(address: string, reason: string, details: Record<string, unknown> = {}): void {
    const t = this.now();
    this.refused++;
    if (this.addresses.size < this.maxAddresses) this.addresses.add(address);
    const last = this.lastLine.get(address);
    if (last !== undefined && t - last < this.perAddressMs) {
      this.notLogged++;
      return;
    }
    if (last === undefined && this.lastLine.size >= this.maxAddresses) {
      this.prune(t);
      if (this.lastLine.size >= this.maxAddresses) {
        this.notLogged++;
        return;
      }
    }
    this.lastLine.set(address, t);
    this.log.warn({ peer: address, reason, ...details }, 'TLS handshake refused');
  }

  /**
   * Writes one line with the refusals since the previous call that were not
   * logged one by one, if any; forgets addresses whose window has passed.
   */
  summarise(): void {
    if (this.notLogged > 0) {
      this.log.warn(
        { refused: this.refused, notLogged: this.notLogged, addresses: this.addresses.size },
        'TLS handshakes refused since the last summary (one line per address per minute)',
      );
    }
    this.refused = 0;
    this.notLogged = 0;
    this.addresses.clear();
    this.prune(this.now());
  }

  private prune(t: number): void {
    for (const [address, at] of this.lastLine) if (t - at >= this.perAddressMs) this.lastLine.delete(address);
  }
}
