import { CordonError } from '../../proto/runtime/CordonError.js';

/** IPMI session privilege levels ipmitool can request (`-L`). */
export type IpmiPrivilege = 'CALLBACK' | 'USER' | 'OPERATOR' | 'ADMINISTRATOR';

/** How IpmitoolDriver talks to BMCs. Every key has a default in IPMITOOL_DEFAULTS. */
export interface IpmitoolConfig {
  /** The ipmitool binary (a name on PATH or a path). */
  command: string;
  /** RMCP+ cipher suite (`-C`) for targets that name none. 3 = HMAC-SHA1 / HMAC-SHA1-96 / AES-CBC-128, which every IPMI 2.0 BMC offers. */
  cipherSuite: number;
  /**
   * Privilege requested for the session (`-L`). mc info, chassis status and
   * sol info need only USER, so a read-only BMC account is enough; ipmitool's
   * own default, ADMINISTRATOR, would fail for such an account.
   */
  privilege: IpmiPrivilege;
  /** ipmitool's per-request timeout in seconds (`-N`). */
  timeoutSeconds: number;
  /** ipmitool's retries per request (`-R`); at least 1 (ipmitool reads 0 as its default, 4, ~20 s). */
  retries: number;
  /** Runs of a command before a silent or unresolvable BMC is declared so; auth failures are never retried. */
  attempts: number;
  /** Checks running at once across all BMCs. */
  concurrency: number;
  /** Least time between two checks of the same BMC (end of one to start of the next). */
  minIntervalMs: number;
  /** Kill an ipmitool run after this long. 0: twice what ipmitool needs to give up on a silent BMC, plus 1 s. */
  hardTimeoutMs: number;
}

export const IPMITOOL_DEFAULTS: IpmitoolConfig = {
  command: 'ipmitool',
  cipherSuite: 3,
  privilege: 'USER',
  timeoutSeconds: 1,
  retries: 1,
  attempts: 2,
  concurrency: 4,
  minIntervalMs: 5000,
  hardTimeoutMs: 0,
};

/**
 * How long one lanplus ipmitool run takes to give up on a BMC that never
 * answers. Measured on ipmitool 1.8.19: request i (0-based) waits N+i seconds,
 * R of them, and the first exchange is tried twice (channel auth capabilities
 * asked for IPMI 2.0, then again for 1.5): N=1 R=1 → 2 s, N=1 R=2 → 6 s,
 * N=2 R=1 → 4 s, N=2 R=2 → 10 s.
 */
export function ipmitoolGiveUpMs(timeoutSeconds: number, retries: number): number {
  return 2 * 1000 * (retries * timeoutSeconds + (retries * (retries - 1)) / 2);
}

/** Defaults filled in, values checked, the hard timeout derived. Throws CordonError `invalid` naming the key. */
export function resolveIpmitoolConfig(partial: Partial<IpmitoolConfig> = {}): IpmitoolConfig {
  const c: IpmitoolConfig = { ...IPMITOOL_DEFAULTS, ...partial };
  const int = (key: keyof IpmitoolConfig, min: number, max: number) => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new CordonError('invalid', `must be an integer from ${min} to ${max}, got ${String(v)}`, { field: key });
    }
  };
  if (c.command.trim() === '') throw new CordonError('invalid', 'must name the ipmitool binary', { field: 'command' });
  if (!['CALLBACK', 'USER', 'OPERATOR', 'ADMINISTRATOR'].includes(c.privilege)) {
    throw new CordonError('invalid', `must be CALLBACK, USER, OPERATOR or ADMINISTRATOR, got ${c.privilege}`, { field: 'privilege' });
  }
  int('cipherSuite', 0, 17);
  int('timeoutSeconds', 1, 60);
  int('retries', 1, 10);
  int('attempts', 1, 10);
  int('concurrency', 1, 1000);
  int('minIntervalMs', 0, 3_600_000);
  int('hardTimeoutMs', 0, 3_600_000);
  if (c.hardTimeoutMs === 0) c.hardTimeoutMs = 2 * ipmitoolGiveUpMs(c.timeoutSeconds, c.retries) + 1000;
  return c;
}
