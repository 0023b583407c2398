import { CordonError } from '../../../proto/runtime/CordonError.js';
import type { DnsblZoneConfig } from './DnsblZone.js';
import { MAX_INTERVAL_MS, dnsblSettings, type DnsblTunables } from './dnsblSettings.js';

/** `monitoring.dnsbl` as the controller's config holds it (seconds where people think in seconds). */
export interface DnsblConfig {
  zones: DnsblZoneConfig[];
  intervalSeconds: number;
  spreadSeconds: number;
  dnsServers: string[];
  timeoutMs: number;
  concurrency: number;
  cacheSeconds: number;
}

/**
 * The monitor's tunables from the config section, checked all together
 * (spread ≤ interval, cache ≤ interval − spread), so `--check-config` can
 * refuse a bad section before start. Throws CordonError `invalid` naming the
 * config key (`monitoring.dnsbl.cacheSeconds`, `monitoring.dnsbl.zones[0].zone`).
 */
export function dnsblTunablesFromConfig(c: DnsblConfig, prefix = 'monitoring.dnsbl'): DnsblTunables {
  // The times in the config's own unit, so a message says what to write.
  const maxInterval = Math.floor(MAX_INTERVAL_MS / 1000);
  seconds(c.intervalSeconds, `${prefix}.intervalSeconds`, 1, maxInterval);
  seconds(c.spreadSeconds, `${prefix}.spreadSeconds`, 0, c.intervalSeconds);
  seconds(c.cacheSeconds, `${prefix}.cacheSeconds`, 0, c.intervalSeconds - c.spreadSeconds, 'intervalSeconds − spreadSeconds: a longer cache would hide the next scheduled check');
  const tunables: DnsblTunables = {
    zones: c.zones,
    intervalMs: c.intervalSeconds * 1000,
    spreadMs: c.spreadSeconds * 1000,
    cacheMs: c.cacheSeconds * 1000,
    resolverServers: c.dnsServers,
    timeoutMs: c.timeoutMs,
    concurrency: c.concurrency,
  };
  dnsblSettings(tunables, {
    zones: `${prefix}.zones`,
    resolverServers: `${prefix}.dnsServers`,
    timeoutMs: `${prefix}.timeoutMs`,
    concurrency: `${prefix}.concurrency`,
  });
  return tunables;
}

function seconds(value: number, field: string, min: number, max: number, why = ''): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CordonError('invalid', `must be a whole number of seconds from ${min} to ${max}${why ? ` (${why})` : ''}; got ${value}`, { field });
  }
}
