/**
 * The network-side fallback: when a server's own agent is gone or tampered
 * with, the controller shuts the server's public port on its access switch.
 * This file holds the contract; `SshSwitchDriver` is the implementation.
 */

/** The switch operating systems Cordon can drive; one profile file each. */
export type SwitchVendor = 'linux' | 'ios' | 'junos';

export const SWITCH_VENDORS: readonly SwitchVendor[] = ['linux', 'ios', 'junos'];

/** One server's public port on one switch, and how to reach that switch. */
export interface SwitchTarget {
  /** Inventory name of the switch; operations on the same id never overlap. */
  switchId: string;
  /** Management address (or DNS name) of the switch's SSH server. */
  address: string;
  /** SSH port, default 22. */
  port?: number;
  /** SSH user; on IOS it must land in privileged exec (privilege 15). */
  user: string;
  /** Private key file (OpenSSH or PEM format, unencrypted) for public-key auth. */
  privateKeyFile: string;
  /** Pinned host key, `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
  hostKeySha256: string;
  vendor: SwitchVendor;
  /** The server's public port on this switch: the only port the driver ever addresses. */
  hostPort: string;
  /** BMC/management ports, trunks, uplinks: never addressed, whatever else is wrong. */
  protectedPorts: string[];
}

/** What the switch says about a port's administrative state. */
export interface PortState {
  port: string;
  /** `true` admin-up, `false` admin-down (shut), `undefined` could not be read. */
  adminUp: boolean | undefined;
}

/**
 * Sets and reads the administrative state of `target.hostPort`, and nothing
 * else. Implementations refuse (`CordonError` kind `refused`) a host port
 * listed in `protectedPorts` before opening any connection.
 */
export interface SwitchDriver {
  /**
   * Shuts (`up = false`) or re-opens the host's port, then reads it back.
   * Idempotent: setting the state the port already has changes nothing.
   * Resolves with the read-back state, which always equals `up`; any other
   * outcome rejects, and a failure after the first command was sent rejects
   * with a `SwitchPortError` carrying the state observed afterwards.
   */
  setPort(target: SwitchTarget, up: boolean, signal?: AbortSignal): Promise<PortState>;
  /** Reads the host port's admin state; rejects when it cannot be determined. */
  readPort(target: SwitchTarget, signal?: AbortSignal): Promise<PortState>;
}
