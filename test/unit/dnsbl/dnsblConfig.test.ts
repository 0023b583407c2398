import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../../../controller/config.js';
import { dnsblTunablesFromConfig } from '../../../controller/monitoring/dnsbl/dnsblTunablesFromConfig.js';

const dir = mkdtempSync(join(tmpdir(), 'cordon-dnsbl-config-'));
let n = 0;
const load = (dnsbl: unknown) => {
  const path = join(dir, `c${n++}.json`);
  writeFileSync(path, JSON.stringify({ monitoring: { dnsbl } }));
  return loadControllerConfig({ file: path });
};
const refusal = (dnsbl: unknown): string => {
  try {
    load(dnsbl);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the config to be refused');
};

describe('monitoring.dnsbl in the controller config', () => {
  it('is off by default, with defaults the monitor takes as they are', () => {
    const d = loadControllerConfig({}).get('monitoring.dnsbl');
    expect(d).toEqual({ enabled: false, zones: [{ zone: 'zen.spamhaus.org' }], intervalSeconds: 86400, spreadSeconds: 3600, dnsServers: [], timeoutMs: 5000, concurrency: 4, cacheSeconds: 3600 });
    expect(dnsblTunablesFromConfig(d)).toMatchObject({ intervalMs: 86_400_000, spreadMs: 3_600_000, cacheMs: 3_600_000 });
  });

  it('takes zones with their own code tables, replacing the default list', () => {
    const zones = [{ zone: 'zen.test', codes: { '127.0.0.2': { list: 'SBL', category: 'spam' } } }, { zone: 'other.test' }];
    expect(load({ enabled: true, zones, dnsServers: ['127.0.0.1:5353'] }).get('monitoring.dnsbl.zones')).toEqual(zones);
  });

  it('refuses a bad value naming the key, and the entry within it', () => {
    expect(refusal({ zones: [{ zone: 'localhost' }] })).toMatch(/monitoring\.dnsbl\.zones: \[0\]\.zone: "localhost" is not a host name/);
    expect(refusal({ zones: [{ zone: 'a.test', codes: { '127.0.0.2': { list: 'X', category: 'nope' } } }] })).toMatch(/monitoring\.dnsbl\.zones: \[0\]\.codes\["127\.0\.0\.2"\]\.category: must be one of/);
    expect(refusal({ dnsServers: ['8.8.8.8:x'] })).toMatch(/monitoring\.dnsbl\.dnsServers: .*"8\.8\.8\.8:x" is not an IP address/);
    expect(refusal({ intervalSeconds: 0 })).toMatch(/monitoring\.dnsbl\.intervalSeconds: must be a positive integer/);
    expect(refusal({ concurrency: 1000 })).toMatch(/monitoring\.dnsbl\.concurrency: must be a whole number from 1 to 256/);
    expect(refusal({ enabled: 'yes' })).toMatch(/monitoring\.dnsbl\.enabled: must be of type Boolean/);
    expect(refusal({ zone: 'zen.spamhaus.org' })).toMatch(/monitoring\.dnsbl\.zone/);
  });

  it('refuses a bad combination naming the key to change, enabled or not', () => {
    expect(refusal({ intervalSeconds: 600 })).toMatch(/invalid configuration:\n {2}monitoring\.dnsbl\.spreadSeconds: must be a whole number of seconds from 0 to 600; got 3600/);
    expect(refusal({ intervalSeconds: 7200, spreadSeconds: 3600, cacheSeconds: 4000 })).toMatch(/monitoring\.dnsbl\.cacheSeconds: .*from 0 to 3600 \(intervalSeconds − spreadSeconds/);
    expect(refusal({ enabled: true, zones: [] })).toMatch(/monitoring\.dnsbl\.zones: is empty/);
    expect(load({ enabled: false, zones: [] }).get('monitoring.dnsbl.zones')).toEqual([]);
  });
});
