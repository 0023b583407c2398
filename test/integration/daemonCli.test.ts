import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';

function runBin(bin: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(DIST, bin), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('daemon command lines', () => {
  let pki: TestPki;
  let controllerConfig: string;
  let agentConfig: string;

  beforeAll(() => {
    pki = new TestPki();
    pki.agent('web-01');
    const inventory = join(pki.root, 'inventory.json');
    writeFileSync(inventory, JSON.stringify({ hosts: [{ id: 'web-01', customerId: 'c1', publicPrefixes: ['203.0.113.1/32'], managementAddress: '10.255.0.1' }] }));
    controllerConfig = join(pki.root, 'controller.json');
    writeFileSync(controllerConfig, JSON.stringify({
      listen: '127.0.0.1:0',
      tls: { ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, 'controller.crt'), key: join(pki.dir, 'controller.key'), revokedSerialsFile: pki.revokedFile },
      inventory: { file: inventory },
    }));
    agentConfig = join(pki.root, 'agent.json');
    writeFileSync(agentConfig, JSON.stringify({
      hostId: 'web-01',
      tls: { ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, 'agent-web-01.crt'), key: join(pki.dir, 'agent-web-01.key') },
    }));
  });
  afterAll(() => pki?.cleanup());

  it('--check-config exits 0 for a usable config', () => {
    expect(runBin('controller/main.js', ['--config', controllerConfig, '--check-config'])).toMatchObject({ code: 0, stdout: 'config OK\n' });
    expect(runBin('agent/main.js', ['--config', agentConfig, '--check-config'])).toMatchObject({ code: 0 });
  });

  it('exits 1 and names the key for a bad value', () => {
    const bad = join(pki.root, 'bad.json');
    writeFileSync(bad, JSON.stringify({ listen: 'no-port', agents: { pingIntervalSeconds: -1 } }));
    const r = runBin('controller/main.js', ['--config', bad, '--check-config']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/listen: must be host:port/);
    expect(r.stderr).toMatch(/agents.pingIntervalSeconds: must be a positive integer/);
  });

  it('exits 1 and names the key for a file that cannot be read', () => {
    const r = runBin('controller/main.js', ['--config', controllerConfig, '--check-config'], { CORDON_TLS_CA: '/nonexistent/ca.crt' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tls.ca: cannot read \/nonexistent\/ca.crt: ENOENT/);
  });

  it('refuses an agent whose host id differs from its certificate', () => {
    const r = runBin('agent/main.js', ['--config', agentConfig, '--check-config'], { CORDON_AGENT_HOST_ID: 'web-02' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/hostId: is "web-02" but the certificate was issued to "web-01"/);
  });

  it('--print-config prints the effective config', () => {
    const r = runBin('agent/main.js', ['--config', agentConfig, '--print-config'], { CORDON_AGENT_STATE_DIR: '/srv/state' });
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as { hostId: string; stateDir: string; heartbeatSeconds: number; restrictedHeartbeatSeconds: number };
    expect(printed).toMatchObject({ hostId: 'web-01', stateDir: '/srv/state', heartbeatSeconds: 60, restrictedHeartbeatSeconds: 10 });
  });

  it('--print-config-schema documents every key and redacts the defaults of secrets', () => {
    const r = runBin('controller/main.js', ['--print-config-schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as Record<string, { doc: string; default: unknown; env?: string }>;
    expect(schema['store.path']).toMatchObject({ default: '/var/lib/cordon/cordon.db', env: 'CORDON_STORE' });
    expect(schema['mail.smtp.password']).toMatchObject({ default: '[redacted]', env: 'CORDON_SMTP_PASSWORD' });
    for (const [key, entry] of Object.entries(schema)) expect(entry.doc, key).not.toBe('');
    const agent = JSON.parse(runBin('agent/main.js', ['--print-config-schema']).stdout) as Record<string, unknown>;
    expect(agent).toHaveProperty('stateDir');
    expect(agent).toHaveProperty('driftCheckSeconds');
  });
});
