// `npm run demo`: starts a controller and an agent on loopback with a freshly
// made PKI and shows them connect, heartbeat and disconnect cleanly. Exits 0
// only if every check passed; cleans up its processes and files either way.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../proto/runtime/version.js';
import { Checks, say } from './narrate.js';
import { freePort, poll, startDaemon, stopDaemon, type Daemon } from './processes.js';

const root = packageRoot();
const dist = join(root, 'dist');

/** Installs what the demo needs when root on Debian; otherwise says what to run. */
function ensureTools(): void {
  const missing = ['openssl'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (missing.length === 0) return;
  const cmd = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0) {
    say(`installing missing Debian packages: ${cmd}`);
    execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${cmd}`], { stdio: 'inherit' });
    return;
  }
  throw new Error(`the demo needs ${missing.join(', ')}: run \`sudo ${cmd}\``);
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '    ');
}

interface AgentRow {
  hostId: string;
  state: string;
  lastHeartbeat: string;
  agentVersion: string;
  lastRttMs?: number;
  disconnectReason?: string;
}

async function main(): Promise<number> {
  ensureTools();
  const work = mkdtempSync(join(tmpdir(), 'cordon-demo-'));
  const daemons: Daemon[] = [];
  const checks = new Checks();
  try {
    const pkiDir = join(work, 'pki');
    const pki = (...args: string[]) =>
      execFileSync(join(root, 'deploy/pki/cordon-pki'), ['--dir', pkiDir, ...args], { encoding: 'utf8' }).trim();
    say('making a fresh PKI: a CA, the controller, agent web-01, operator demo (viewer)');
    pki('init');
    pki('issue-controller', 'localhost', '127.0.0.1');
    pki('issue-agent', 'web-01');
    pki('issue-operator', 'demo', 'viewer');

    const port = await freePort();
    const inventory = join(work, 'inventory.json');
    writeFileSync(
      inventory,
      JSON.stringify({
        hosts: [{ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32', '2001:db8:10::/64'], managementAddress: '127.0.0.1' }],
      }),
    );
    const controllerConfig = join(work, 'controller.json');
    writeFileSync(
      controllerConfig,
      JSON.stringify({
        listen: `127.0.0.1:${port}`,
        tls: { ca: join(pkiDir, 'ca.crt'), cert: join(pkiDir, 'controller.crt'), key: join(pkiDir, 'controller.key'), revokedSerialsFile: join(pkiDir, 'revoked-serials') },
        inventory: { file: inventory },
        store: { path: join(work, 'cordon.db') },
        metrics: { listen: '' },
      }),
    );
    const agentConfig = join(work, 'agent.json');
    writeFileSync(
      agentConfig,
      JSON.stringify({
        hostId: 'web-01',
        controller: { address: `127.0.0.1:${port}`, serverName: 'localhost' },
        tls: { ca: join(pkiDir, 'ca.crt'), cert: join(pkiDir, 'agent-web-01.crt'), key: join(pkiDir, 'agent-web-01.key') },
        heartbeatSeconds: 1,
        interfaces: { public: [], management: ['lo'] },
        stateDir: join(work, 'agent-state'),
      }),
    );

    const ctl = (...args: string[]) =>
      execFileSync(
        process.execPath,
        ['--disable-warning=DEP0123', join(dist, 'controller/cli/main.js'), '--controller', `127.0.0.1:${port}`, '--server-name', 'localhost', '--pki', pkiDir, '--operator', 'demo', ...args],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
    const agents = (): AgentRow[] => JSON.parse(ctl('agents', '--json')) as AgentRow[];

    say(`starting cordon-controller on 127.0.0.1:${port} (mutual TLS)`);
    const controller = startDaemon('controller', join(dist, 'controller/main.js'), ['--config', controllerConfig]);
    daemons.push(controller);
    const healthy = await poll(() => (ctl('health').trim() === 'SERVING' ? true : undefined), 10_000);
    checks.ok('controller answers gRPC health checks', healthy === true);

    say('starting cordon-agent for host web-01 (heartbeat every 1 s)');
    const agent = startDaemon('agent', join(dist, 'agent/main.js'), ['--config', agentConfig]);
    daemons.push(agent);
    const connected = await poll(() => agents().find((a) => a.hostId === 'web-01' && a.state === 'connected'), 10_000);
    checks.ok('the agent connected with its certificate and said hello', connected !== undefined, connected ? `version ${connected.agentVersion}` : '');
    if (connected) {
      const beat = await poll(() => {
        const row = agents().find((a) => a.hostId === 'web-01');
        return row && row.lastHeartbeat > connected.lastHeartbeat ? row : undefined;
      }, 5_000);
      checks.ok('the controller saw a later heartbeat', beat !== undefined, beat ? `last heartbeat ${beat.lastHeartbeat}` : '');
    }
    say('cordonctl agents:');
    process.stdout.write(indent(ctl('agents')));
    say('cordonctl hosts:');
    process.stdout.write(indent(ctl('hosts')));

    say('stopping the agent (SIGTERM)');
    const agentExit = await stopDaemon(agent);
    checks.ok('the agent exited 0', agentExit === 0, `exit ${agentExit}`);
    const gone = await poll(() => agents().find((a) => a.hostId === 'web-01' && a.state === 'disconnected'), 5_000);
    checks.ok('the controller recorded a clean disconnect', gone?.disconnectReason === 'closed by the agent', gone?.disconnectReason);

    say('stopping the controller (SIGTERM)');
    const controllerExit = await stopDaemon(controller);
    checks.ok('the controller exited 0', controllerExit === 0, `exit ${controllerExit}`);
  } finally {
    await Promise.all(daemons.map((d) => stopDaemon(d, 2_000)));
    rmSync(work, { recursive: true, force: true });
  }
  if (checks.failures.length > 0) {
    say(`demo FAILED: ${checks.failures.join('; ')}`);
    return 1;
  }
  say('demo passed: every check saw what it should');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
