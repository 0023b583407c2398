/**
 * How the controller asks whether a server's BMC still answers, so that an
 * enforcement that cuts the public network never also cuts the customer's way
 * to repair the server. One interface, so a Redfish driver can join the
 * IPMI one (`IpmitoolDriver`) without the callers changing.
 */

/** One BMC as the inventory describes it. */
export interface BmcTarget {
  hostId: string;
  /** IPv4/IPv6 address or DNS name of the BMC on the management network. */
  address: string;
  /** UDP port; 623 (the IPMI/RMCP+ port) when absent. */
  port?: number;
  user: string;
  /** Path of a file holding the password (first line). The password itself never leaves that file. */
  passwordFile: string;
  /** The inventory says Serial-over-LAN should be available on this BMC. */
  sol: boolean;
  /** RMCP+ cipher suite for this BMC; the driver's default when absent. */
  cipherSuite?: number;
}

/**
 * Why a check failed:
 * - `timeout`: packets left, nothing came back in time (BMC down, hung, or
 *   filtered).
 * - `auth`: the BMC answered and refused the credentials, the user, the role
 *   or the cipher suite. Retrying cannot help and may lock the account.
 * - `unreachable`: nothing could be sent (the name does not resolve, no route).
 * - `other`: anything else, e.g. the BMC answered but not the command.
 */
export type BmcErrorKind = 'timeout' | 'auth' | 'unreachable' | 'other';

/** What one check observed. A failed check is a result, not an exception. */
export type BmcCheck = {
  hostId: string;
  /** The BMC answered an authenticated session (mc info, or chassis status as the fallback). */
  reachable: boolean;
  /** `unavailable` when SOL is required but disabled, not answered, or the BMC is unreachable. */
  sol: 'ok' | 'unavailable' | 'not_required';
  /** When the first command of this check started (after any pacing wait). */
  checkedAt: Date;
  /** Time spent on the commands themselves, not on waiting for a turn. */
  durationMs: number;
  /** Why `reachable` is false, or, when reachable, why `sol` is `unavailable`. Never contains the password. */
  error?: string;
  errorKind?: BmcErrorKind;
  /** Commands run against the BMC for this check, retries included. */
  attempts: number;
  /** What the BMC reported, e.g. from mc info: `Firmware Revision`, `Manufacturer Name`. */
  details?: Record<string, string>;
};

export interface BmcDriver {
  /**
   * Checks one BMC. Resolves with a BmcCheck whatever state the BMC is in;
   * rejects only with a CordonError: `invalid` for a malformed target,
   * `unsupported` when the tool is missing, `transient` when `signal` aborts.
   * Safe to call concurrently: the driver paces and bounds the commands.
   */
  check(target: BmcTarget, signal?: AbortSignal): Promise<BmcCheck>;
}
