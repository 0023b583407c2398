import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { loadControllerConfig } from '../../controller/config.js';
import { loadConfig, parseAddress, printableConfig } from '../../proto/runtime/config.js';
import { CordonError } from '../../proto/runtime/CordonError.js';

const dir = mkdtempSync(join(tmpdir(), 'cordon-config-'));
function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}
function errorOf(fn: () => unknown): CordonError {
  try {
    fn();
  } catch (err) {
    return err as CordonError;
  }
  throw new Error('expected an error');
}

describe('controller config', () => {
  it('has usable defaults', () => {
    const c = loadControllerConfig({});
    expect(c.get('listen')).toBe('127.0.0.1:7443');
    expect(c.get('agents.staleAfterMissedHeartbeats')).toBe(3);
  });

  it('takes the file, then the environment', () => {
    const c = loadControllerConfig({
      file: file('c1.json', { listen: '[::1]:9000', agents: { pingIntervalSeconds: 5 } }),
      env: { CORDON_LOG_LEVEL: 'debug' },
    });
    expect(c.get('listen')).toBe('[::1]:9000');
    expect(c.get('agents.pingIntervalSeconds')).toBe(5);
    expect(c.get('log.level')).toBe('debug');
  });

  it('names an unknown key', () => {
    const err = errorOf(() => loadControllerConfig({ file: file('c2.json', { listen: '127.0.0.1:1', lisen: 'x' }) }));
    expect(err.kind).toBe('invalid');
    expect(err.message).toMatch(/lisen/);
  });

  it('names a key with a bad value and the reason', () => {
    const err = errorOf(() => loadControllerConfig({ file: file('c3.json', { listen: 'nowhere' }) }));
    expect(err.message).toMatch(/listen: must be host:port/);
    const err2 = errorOf(() => loadControllerConfig({ file: file('c4.json', { agents: { staleAfterMissedHeartbeats: 0 } }) }));
    expect(err2.message).toMatch(/agents.staleAfterMissedHeartbeats: must be a positive integer/);
  });

  it('reports a missing file and broken JSON as config errors', () => {
    expect(errorOf(() => loadControllerConfig({ file: join(dir, 'absent.json') })).message).toMatch(/does not exist/);
    expect(errorOf(() => loadControllerConfig({ file: file('c5.json', '{ "listen": ') })).message).toMatch(/not valid JSON/);
  });
});

describe('agent config', () => {
  it('requires a host id', () => {
    expect(errorOf(() => loadAgentConfig({})).message).toMatch(/hostId: must match/);
  });

  it('reads the state directory from CORDON_AGENT_STATE_DIR', () => {
    const c = loadAgentConfig({ env: { CORDON_AGENT_HOST_ID: 'web-01', CORDON_AGENT_STATE_DIR: '/tmp/x' } });
    expect(c.get('stateDir')).toBe('/tmp/x');
  });

  it('validates management networks and refuses an interface in both roles', () => {
    const bad = errorOf(() =>
      loadAgentConfig({ file: file('a1.json', { hostId: 'web-01', managementNetworks: ['10.255.0.1/16'] }) }),
    );
    expect(bad.message).toMatch(/managementNetworks: .*host bits set/);
    const both = errorOf(() =>
      loadAgentConfig({ file: file('a2.json', { hostId: 'web-01', interfaces: { public: ['eth0'], management: ['eth0'] } }) }),
    );
    expect(both.field).toBe('interfaces.public');
  });
});

describe('printableConfig', () => {
  it('redacts sensitive values', () => {
    const c = loadConfig(
      { user: { doc: '', format: String, default: 'u' }, password: { doc: '', format: String, default: 'hunter2', sensitive: true } },
      {},
    );
    const printed = printableConfig(c);
    expect(printed).toContain('"user": "u"');
    expect(printed).not.toContain('hunter2');
  });
});

describe('parseAddress', () => {
  it('accepts host:port and [v6]:port, refuses the rest', () => {
    expect(parseAddress('ctl.example:7443')).toEqual({ host: 'ctl.example', port: 7443 });
    expect(parseAddress('[2001:db8::1]:7443')).toEqual({ host: '2001:db8::1', port: 7443 });
    expect(() => parseAddress('2001:db8::1:7443')).toThrow();
    expect(() => parseAddress('host:70000')).toThrow();
  });
});
