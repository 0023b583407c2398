import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { loadControllerConfig } from '../../controller/config.js';
import { CordonError } from '../../proto/runtime/CordonError.js';

const dir = mkdtempSync(join(tmpdir(), 'cordon-strict-config-'));
let n = 0;
function file(content: unknown): string {
  const path = join(dir, `c${n++}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
}
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    expect((err as CordonError).kind).toBe('invalid');
    return (err as CordonError).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('config values of the wrong JSON type are refused, naming the key', () => {
  it.each(['no', 'off', '0', 'false', 'true', 'yes'])('refuses "drill": %j (a string is not a boolean)', (value) => {
    expect(refusal(() => loadControllerConfig({ file: file({ clock: { drill: value } }) }))).toMatch(/clock\.drill: must be of type Boolean/);
  });

  it('refuses numbers and null for booleans, and keeps real booleans', () => {
    expect(refusal(() => loadControllerConfig({ file: file({ clock: { drill: 0 } }) }))).toMatch(/clock\.drill/);
    expect(refusal(() => loadControllerConfig({ file: file({ switchFallback: { enabled: null } }) }))).toMatch(/switchFallback\.enabled/);
    expect(refusal(() => loadAgentConfig({ file: file({ hostId: 'web-01', log: { pretty: 'yes' } }) }))).toMatch(/log\.pretty/);
    expect(loadControllerConfig({ file: file({ clock: { drill: true } }) }).get('clock.drill')).toBe(true);
  });

  it('refuses strings, fractions and booleans for integers and ports', () => {
    expect(refusal(() => loadControllerConfig({ file: file({ mail: { smtp: { port: '25' } } }) }))).toMatch(/mail\.smtp\.port: must be a TCP port/);
    expect(refusal(() => loadControllerConfig({ file: file({ agents: { pingIntervalSeconds: '5' } }) }))).toMatch(/agents\.pingIntervalSeconds: must be a positive integer/);
    expect(refusal(() => loadControllerConfig({ file: file({ agents: { pingIntervalSeconds: 2.5 } }) }))).toMatch(/agents\.pingIntervalSeconds/);
    expect(refusal(() => loadAgentConfig({ file: file({ hostId: 'web-01', controller: { pollSeconds: '10' } }) }))).toMatch(/controller\.pollSeconds: must be a non-negative integer/);
    expect(refusal(() => loadAgentConfig({ file: file({ hostId: 'web-01', heartbeatSeconds: true }) }))).toMatch(/heartbeatSeconds/);
  });

  it('refuses strings for objects and lists, numbers for strings, and objects for scalars', () => {
    expect(refusal(() => loadControllerConfig({ file: file({ policy: { categories: '{"spam": {}}' } }) }))).toMatch(/policy\.categories: must be of type Object/);
    expect(refusal(() => loadControllerConfig({ file: file({ enforcement: { smtpRelays: '10.0.0.1/32' } }) }))).toMatch(/enforcement\.smtpRelays/);
    expect(refusal(() => loadControllerConfig({ file: file({ tls: { ca: 42 } }) }))).toMatch(/tls\.ca: must be of type String/);
    expect(refusal(() => loadControllerConfig({ file: file({ listen: { host: '127.0.0.1', port: 1 } }) }))).toMatch(/listen: takes no object/);
    expect(refusal(() => loadControllerConfig({ file: file({ clock: true }) }))).toMatch(/clock: must be an object/);
  });

  it('parses environment variables strictly by the key type, naming key and variable', () => {
    expect(loadControllerConfig({ env: { CORDON_SMTP_PORT: '2525' } }).get('mail.smtp.port')).toBe(2525);
    expect(refusal(() => loadControllerConfig({ env: { CORDON_SMTP_PORT: '25 ' } }))).toMatch(/mail\.smtp\.port \(from \$CORDON_SMTP_PORT\): must be an integer/);
    expect(refusal(() => loadControllerConfig({ env: { CORDON_SMTP_PORT: '70000' } }))).toMatch(/mail\.smtp\.port: must be a TCP port/);
    expect(loadAgentConfig({ env: { CORDON_AGENT_HOST_ID: 'web-01', CORDON_AGENT_POLL_SECONDS: '5' } }).get('controller.pollSeconds')).toBe(5);
  });
});

describe('mail settings', () => {
  it('refuses a From or Reply-To that is not a bare address', () => {
    for (const bad of ['abuse', 'Abuse Desk <abuse@provider.example>', 'abuse@', '@provider.example', 'a b@provider.example', 'abuse@provider..example', '']) {
      expect(refusal(() => loadControllerConfig({ file: file({ mail: { from: bad } }) }))).toMatch(/mail\.from: must be a bare e-mail address/);
    }
    expect(refusal(() => loadControllerConfig({ file: file({ mail: { replyTo: 'desk' } }) }))).toMatch(/mail\.replyTo/);
    expect(loadControllerConfig({ file: file({ mail: { from: 'abuse+desk@mail.provider.example' } }) }).get('mail.from')).toBe('abuse+desk@mail.provider.example');
  });

  it('refuses an empty SMTP host (the daemon always sends mail)', () => {
    expect(refusal(() => loadControllerConfig({ file: file({ mail: { smtp: { host: '' } } }) }))).toMatch(/mail\.smtp\.host: must be a host name or an IP address/);
    expect(refusal(() => loadControllerConfig({ env: { CORDON_SMTP_HOST: 'smtp relay' } }))).toMatch(/mail\.smtp\.host/);
    expect(loadControllerConfig({ file: file({ mail: { smtp: { host: 'smtp.provider.example' } } }) }).get('mail.smtp.host')).toBe('smtp.provider.example');
    expect(loadControllerConfig({ file: file({ mail: { smtp: { host: '2001:db8::25' } } }) }).get('mail.smtp.host')).toBe('2001:db8::25');
  });
});

describe('agents.maxHeartbeatSeconds', () => {
  it('defaults to 60, and to 10 for a restricted host, and takes positive integers', () => {
    expect(loadControllerConfig({}).get('agents.maxHeartbeatSeconds')).toBe(60);
    expect(loadControllerConfig({}).get('agents.maxRestrictedHeartbeatSeconds')).toBe(10);
    expect(refusal(() => loadControllerConfig({ file: file({ agents: { maxHeartbeatSeconds: 0 } }) }))).toMatch(/agents\.maxHeartbeatSeconds/);
    expect(refusal(() => loadControllerConfig({ file: file({ agents: { maxRestrictedHeartbeatSeconds: -1 } }) }))).toMatch(/agents\.maxRestrictedHeartbeatSeconds/);
  });
});
