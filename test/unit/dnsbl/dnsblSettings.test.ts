import { describe, expect, it } from 'vitest';
import { dnsblSettings, type DnsblTunables } from '../../../controller/monitoring/dnsbl/dnsblSettings.js';
import { dnsblTunablesFromConfig, type DnsblConfig } from '../../../controller/monitoring/dnsbl/dnsblTunablesFromConfig.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';

const zones = [{ zone: 'zen.spamhaus.org' }];

function fieldOf(t: Partial<DnsblTunables>): string | undefined {
  try {
    dnsblSettings({ zones, ...t });
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    expect((err as CordonError).kind).toBe('invalid');
    return (err as CordonError).field;
  }
  throw new Error(`accepted ${JSON.stringify(t)}`);
}

describe('DNSBL monitor settings', () => {
  it('defaults to a daily check spread over an hour, 4 lookups at once, 5 s each, answers kept an hour', () => {
    expect(dnsblSettings({ zones })).toMatchObject({ intervalMs: 86_400_000, spreadMs: 3_600_000, cacheMs: 3_600_000, concurrency: 4, timeoutMs: 5_000, servers: [] });
  });

  it('scales the default spread and cache down for a short interval, so the cache never hides a scheduled check', () => {
    const s = dnsblSettings({ zones, intervalMs: 60_000 });
    expect(s).toMatchObject({ spreadMs: 15_000, cacheMs: 22_500 });
    expect(s.cacheMs).toBeLessThanOrEqual(s.intervalMs - s.spreadMs);
  });

  it('names the field of a bad value', () => {
    expect(fieldOf({ zones: [{ zone: 'nodot' }] })).toBe('zones[0].zone');
    expect(fieldOf({ intervalMs: 0 })).toBe('intervalMs');
    expect(fieldOf({ intervalMs: 2 ** 31 })).toBe('intervalMs');
    expect(fieldOf({ spreadMs: 90_000_000 })).toBe('spreadMs');
    expect(fieldOf({ cacheMs: 86_000_000 })).toBe('cacheMs');
    expect(fieldOf({ timeoutMs: 1.5 })).toBe('timeoutMs');
    expect(fieldOf({ concurrency: 0 })).toBe('concurrency');
    expect(fieldOf({ resolverServers: ['127.0.0.1:53', 'dns.example'] })).toBe('resolverServers[1]');
  });

  it('takes servers with ports, as Resolver.setServers does', () => {
    expect(dnsblSettings({ zones, resolverServers: ['127.0.0.1:5353', '[::1]:53', '192.0.2.53'] }).servers).toEqual(['127.0.0.1:5353', '[::1]:53', '192.0.2.53']);
  });
});

describe('monitoring.dnsbl config to tunables', () => {
  const config: DnsblConfig = { zones, intervalSeconds: 86_400, spreadSeconds: 3_600, dnsServers: [], timeoutMs: 5_000, concurrency: 4, cacheSeconds: 3_600 };
  const fieldOfConfig = (over: Partial<DnsblConfig>) => {
    try {
      dnsblTunablesFromConfig({ ...config, ...over });
    } catch (err) {
      expect((err as CordonError).kind).toBe('invalid');
      return (err as CordonError).field;
    }
    throw new Error('accepted');
  };

  it('converts seconds to the monitor\'s milliseconds', () => {
    expect(dnsblTunablesFromConfig(config)).toEqual({ zones, intervalMs: 86_400_000, spreadMs: 3_600_000, cacheMs: 3_600_000, resolverServers: [], timeoutMs: 5_000, concurrency: 4 });
  });

  it('names the config key of a mistake, in seconds where the key is', () => {
    expect(fieldOfConfig({ spreadSeconds: 90_000 })).toBe('monitoring.dnsbl.spreadSeconds');
    expect(fieldOfConfig({ cacheSeconds: 84_000 })).toBe('monitoring.dnsbl.cacheSeconds');
    expect(fieldOfConfig({ intervalSeconds: 0 })).toBe('monitoring.dnsbl.intervalSeconds');
    expect(fieldOfConfig({ zones: [{ zone: 'zen.spamhaus.org', codes: { '127.0.0.2': { list: 'SBL', category: 'spamm' } } }] })).toBe('monitoring.dnsbl.zones[0].codes["127.0.0.2"].category');
    expect(fieldOfConfig({ dnsServers: ['8.8.8.8:99999'] })).toBe('monitoring.dnsbl.dnsServers[0]');
    expect(fieldOfConfig({ concurrency: 0 })).toBe('monitoring.dnsbl.concurrency');
    expect(() => dnsblTunablesFromConfig({ ...config, cacheSeconds: 84_000 })).toThrow(/from 0 to 82800 \(intervalSeconds − spreadSeconds/);
  });
});
