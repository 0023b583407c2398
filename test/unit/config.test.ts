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

  it('takes several controllers in controller.addresses, from the file or $CORDON_AGENT_CONTROLLERS', () => {
    const list = ['10.255.0.1:7443', 'ctl-b.mgmt:7443', '[fd00::3]:7443'];
    expect(loadAgentConfig({ file: file('l1.json', { hostId: 'web-01', controller: { addresses: list } }) }).get('controller.addresses')).toEqual(list);
    expect(loadAgentConfig({ env: { CORDON_AGENT_HOST_ID: 'web-01', CORDON_AGENT_CONTROLLERS: JSON.stringify(list) } }).get('controller.addresses')).toEqual(list);
    // controller.address alone works as before, and stays the default when neither is set.
    const one = loadAgentConfig({ file: file('l2.json', { hostId: 'web-01', controller: { address: 'ctl.mgmt:7443' } }) });
    expect([one.get('controller.address'), one.get('controller.addresses')]).toEqual(['ctl.mgmt:7443', []]);
    expect(loadAgentConfig({ env: { CORDON_AGENT_HOST_ID: 'web-01' } }).get('controller.address')).toBe('127.0.0.1:7443');
  });

  it('refuses a bad controller list, naming controller.addresses', () => {
    const refused = (controller: unknown, env: NodeJS.ProcessEnv = {}) =>
      errorOf(() => loadAgentConfig({ file: file(`l${Math.random()}.json`, { hostId: 'web-01', controller }), env }));
    expect(refused({ addresses: ['10.255.0.1:7443', 'nowhere'] }).message).toMatch(/controller\.addresses: \[1\] must be host:port/);
    expect(refused({ addresses: ['10.255.0.1:7443', 7443] }).message).toMatch(/controller\.addresses: \[1\] must be a string host:port/);
    expect(refused({ addresses: ['ctl.mgmt:7443', 'CTL.mgmt:7443'] }).message).toMatch(/controller\.addresses: \[1\] "CTL.mgmt:7443" is listed twice/);
    expect(refused({ addresses: Array.from({ length: 17 }, (_, i) => `10.255.0.${i + 1}:7443`) }).message).toMatch(/controller\.addresses: must list at most 16 addresses, got 17/);
    expect(refused({ addresses: '10.255.0.1:7443' }).message).toMatch(/controller\.addresses: must be a list/);
    // Both set: in the file, or the address from the environment; an address equal to the default counts as set.
    const both = refused({ address: '127.0.0.1:7443', addresses: ['10.255.0.1:7443'] });
    expect(both.field).toBe('controller.addresses');
    expect(both.message).toMatch(/set either controller\.address or controller\.addresses, not both/);
    expect(refused({ addresses: ['10.255.0.1:7443'] }, { CORDON_AGENT_CONTROLLER: 'ctl.mgmt:7443' }).field).toBe('controller.addresses');
    expect(refused({}, { CORDON_AGENT_CONTROLLERS: '10.255.0.1:7443' }).message).toMatch(/controller\.addresses \(from \$CORDON_AGENT_CONTROLLERS\): must be JSON/);
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
