import { CordonError } from '../../../proto/runtime/CordonError.js';
import { validateDnsServers } from '../../intake/trust/createDnsResolver.js';
import { validateDnsblZones, type DnsblZone, type DnsblZoneConfig } from './DnsblZone.js';

/** The monitor's tunables as given; every one but the zones has a default. */
export interface DnsblTunables {
  zones: readonly DnsblZoneConfig[];
  /** Between the starts of two scheduled checks. Default: a day. */
  intervalMs?: number;
  /** A scheduled check spreads its lookups over this window. Default: an hour, or a quarter of the interval if that is less. */
  spreadMs?: number;
  /** DNS servers to ask ("127.0.0.1:53", "[::1]:5353"); default: the system's. Public resolvers get error codes from Spamhaus. */
  resolverServers?: readonly string[];
  /** One lookup (A and TXT) at most. Default 5 s. */
  timeoutMs?: number;
  /** Lookups in flight at most. Default 4. */
  concurrency?: number;
  /** An answer is reused for this long (no query). Default: an hour, or half of interval − spread if that is less. */
  cacheMs?: number;
}

export interface DnsblSettings {
  zones: DnsblZone[];
  intervalMs: number;
  spreadMs: number;
  servers: string[];
  timeoutMs: number;
  concurrency: number;
  cacheMs: number;
}

const HOUR = 3_600_000;
/** setTimeout's limit (about 24.8 days). */
const MAX_DELAY = 2 ** 31 - 1;

/** Longest interval: setTimeout's limit (about 24.8 days). */
export const MAX_INTERVAL_MS = MAX_DELAY;
export const MAX_TIMEOUT_MS = 120_000;
export const MAX_CONCURRENCY = 256;

/**
 * Checks the tunables and fills in defaults. Throws CordonError `invalid`
 * naming the field, as `fields` renames it (default: the tunable's own
 * name). The cache must expire before the next scheduled check reaches the
 * same pair (cacheMs ≤ intervalMs − spreadMs), or scheduled checks would
 * never ask the DNS again.
 */
export function dnsblSettings(t: DnsblTunables, fields: Partial<Record<keyof DnsblTunables, string>> = {}): DnsblSettings {
  const f = (k: keyof DnsblTunables) => fields[k] ?? k;
  const zones = validateDnsblZones(t.zones, f('zones'));
  const intervalMs = whole(t.intervalMs ?? 24 * HOUR, f('intervalMs'), 1, MAX_DELAY);
  const spreadMs = whole(t.spreadMs ?? Math.min(HOUR, Math.floor(intervalMs / 4)), f('spreadMs'), 0, intervalMs);
  const cacheMs = whole(t.cacheMs ?? Math.min(HOUR, Math.floor((intervalMs - spreadMs) / 2)), f('cacheMs'), 0, intervalMs - spreadMs);
  return {
    zones,
    intervalMs,
    spreadMs,
    servers: validateDnsServers([...(t.resolverServers ?? [])], f('resolverServers')),
    timeoutMs: whole(t.timeoutMs ?? 5_000, f('timeoutMs'), 1, MAX_TIMEOUT_MS),
    concurrency: whole(t.concurrency ?? 4, f('concurrency'), 1, MAX_CONCURRENCY),
    cacheMs,
  };
}

function whole(value: number, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new CordonError('invalid', `must be a whole number from ${min} to ${max} (got ${value})`, { field });
  return value;
}
