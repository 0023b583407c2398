import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { createEngine } from '../../agent/createEngine.js';
import type { AgentLink } from '../../agent/link/ControllerLink.js';
import { PollingLink } from '../../agent/link/PollingLink.js';
import { runDaemon, type RunningAgent } from '../../agent/runDaemon.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { loadTlsMaterial, type TlsMaterial } from '../../proto/runtime/tls.js';
import { controllerSettings, testLink } from '../helpers/controllerHarness.js';
import { freePort } from '../helpers/freePort.js';
import { DIST, REPO_ROOT } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';
import { recordingLog, type RecordedLine } from '../helpers/recordingLog.js';
import { waitFor } from '../helpers/waitFor.js';

const WEB01 = { id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.255.0.10' };

/**
 * An agent with several controllers (controller.addresses) moves to another
 * when the one it holds a stream with stops, dies, is not there, or is not
 * who it claims. The two controllers are not replicas of one database (that
 * comes later in issue 15): each has its own SQLite store holding web-01.
 */
describe('an agent with several controllers', () => {
  let pki: TestPki;
  let work: string;
  let n = 0;
  const controllers: Controller[] = [];
  const processes: ChildProcess[] = [];
  const agents: RunningAgent[] = [];
  const links: AgentLink[] = [];

  /** A whole controller in this process, on its own SQLite file holding web-01. */
  const startController = async (overrides: { listen?: string; tls?: TlsMaterial } = {}): Promise<Controller> => {
    const store = await Store.open(join(work, `cordon-${n++}.db`));
    await store.hosts.add(WEB01);
    const c = await runController(controllerSettings(pki, store, overrides));
    controllers.push(c);
    return c;
  };
  const stopController = async (c: Controller) => {
    controllers.splice(controllers.indexOf(c), 1);
    await c.stop(500);
    await c.store.close();
  };

  /** The real agent daemon (dry-run backend) with these controllers and short backoff, logging into `lines`. */
  const startAgent = async (addresses: string[]): Promise<{ agent: RunningAgent; engine: ReturnType<typeof createEngine>; lines: RecordedLine[] }> => {
    const config = join(work, `agent-${n++}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        hostId: 'web-01',
        controller: { addresses, serverName: 'localhost' },
        tls: { ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, 'agent-web-01.crt'), key: join(pki.dir, 'agent-web-01.key') },
        heartbeatSeconds: 1,
        reconnect: { initialMs: 200, maxMs: 1_000, spreadMs: 300 },
        backend: 'dry-run',
        stateDir: mkdtempSync(join(work, 'state-')),
      }),
    );
    const settings = loadAgentConfig({ file: config }).getProperties();
    const { log, lines } = recordingLog('info');
    const engine = createEngine(settings, log);
    const agent = await runDaemon(settings, pki.material('agent-web-01'), engine, log);
    agents.push(agent);
    return { agent, engine, lines };
  };
  /** TLS material of a controller certificate from the same CA for `names` only (cordon-pki issue-controller in a copy of the PKI). */
  const controllerCertFor = (...names: string[]): TlsMaterial => {
    const dir = join(work, `pki-${n++}`);
    cpSync(pki.dir, dir, { recursive: true });
    unlinkSync(join(dir, 'controller.crt'));
    unlinkSync(join(dir, 'controller.key'));
    execFileSync(join(REPO_ROOT, 'deploy/pki/cordon-pki'), ['--dir', dir, 'issue-controller', ...names], { stdio: 'ignore' });
    return loadTlsMaterial({ ca: join(dir, 'ca.crt'), cert: join(dir, 'controller.crt'), key: join(dir, 'controller.key') });
  };
  const connectedTo = (lines: RecordedLine[]) => lines.filter((l) => l.msg === 'connected to controller').map((l) => l.address);
  const kinds = (engine: ReturnType<typeof createEngine>) => engine.held()?.enforcements.map((e) => e.action.kind).sort() ?? [];

  beforeAll(() => {
    pki = new TestPki();
    pki.agent('web-01');
    pki.operator('olga', 'abuse_operator');
    work = mkdtempSync(join(tmpdir(), 'cordon-failover-'));
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await Promise.all(links.splice(0).map((l) => l.stop()));
    for (const p of processes.splice(0)) p.kill('SIGKILL');
    for (const c of [...controllers]) await stopController(c);
  });
  afterAll(() => {
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('moves to the other controller when the one it holds is stopped, and applies what that one holds', async () => {
    const a = await startController();
    const b = await startController();
    const address = (c: Controller) => `127.0.0.1:${c.server.port}`;
    const { engine, lines } = await startAgent([address(a), address(b)]);
    // The start is random: whichever it took is "first".
    await waitFor('the agent to connect to one controller', () => connectedTo(lines).length === 1, 5_000);
    const [first, second] = connectedTo(lines)[0] === address(a) ? [a, b] : [b, a];
    expect(first.server.sessions.get('web-01')?.state).toBe('connected');
    await first.service.enforceHost('web-01', { kind: 'smtp_block' }, 'seen live', 'olga');
    await waitFor('the first controller’s state applied', () => engine.generation() === 1n);
    // The second holds a newer generation of its own (two incidents), so the agent takes it.
    await second.service.enforceHost('web-01', { kind: 'smtp_block' }, 'seen live', 'olga');
    await second.service.enforceHost('web-01', { kind: 'throttle', rateBps: 5_000_000 }, 'seen live', 'olga');

    const stoppedAt = performance.now();
    await stopController(first);
    await waitFor('the agent to apply the second controller’s state', () => engine.generation() === 2n, 10_000);
    const tookMs = performance.now() - stoppedAt;
    expect(tookMs).toBeLessThan(10_000);
    expect(kinds(engine)).toEqual(['smtp_block', 'throttle']);
    expect(connectedTo(lines)).toEqual([address(first), address(second)]);
    expect(second.server.sessions.get('web-01')?.state).toBe('connected');
    // Why it moved: the stream the first controller ended, naming the next one.
    expect(lines.find((l) => l.msg === 'controller ended the stream' || l.msg === 'controller link down')).toMatchObject({ address: address(first), next: address(second) });
  });

  it('moves to the other controller when the one it holds is killed (kill -9 of the real daemon)', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(work, 'proc-'));
    writeFileSync(join(dir, 'inventory.json'), JSON.stringify({ hosts: [WEB01], customers: [{ id: 'acme', name: 'ACME', email: 'ops@acme.example' }] }));
    writeFileSync(
      join(dir, 'controller.json'),
      JSON.stringify({
        listen: `127.0.0.1:${port}`,
        tls: { ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, 'controller.crt'), key: join(pki.dir, 'controller.key'), revokedSerialsFile: pki.revokedFile },
        inventory: { file: join(dir, 'inventory.json') },
        store: { path: join(dir, 'cordon.db') },
        log: { level: 'warn' },
      }),
    );
    const proc = spawn(process.execPath, ['--disable-warning=DEP0123', join(DIST, 'controller/main.js'), '--config', join(dir, 'controller.json')], { stdio: ['ignore', 'ignore', 'inherit'] });
    processes.push(proc);
    // The in-process controller is not up yet: whatever the random start, the agent ends on the process.
    const laterPort = await freePort();
    const { engine, lines } = await startAgent([`127.0.0.1:${port}`, `127.0.0.1:${laterPort}`]);
    await waitFor('the agent to connect to the controller process', () => connectedTo(lines).includes(`127.0.0.1:${port}`), 15_000);
    const second = await startController({ listen: `127.0.0.1:${laterPort}` });
    await second.service.enforceHost('web-01', { kind: 'throttle', rateBps: 5_000_000 }, 'seen live', 'olga');

    const killedAt = performance.now();
    proc.kill('SIGKILL');
    await waitFor('the agent to apply the second controller’s state', () => engine.generation() === 1n, 10_000);
    expect(performance.now() - killedAt).toBeLessThan(10_000);
    expect(kinds(engine)).toEqual(['throttle']);
    expect(connectedTo(lines).at(-1)).toBe(`127.0.0.1:${laterPort}`);
  });

  it('tries the next address at once when the first is a closed port, without a backoff', async () => {
    const good = await startController();
    const closed = await freePort();
    const { log, lines } = recordingLog('info');
    // Backoff this long would show: the next address must be tried without it.
    const { link, received } = testLink(pki.material('agent-web-01'), 0, 'web-01', {
      address: undefined,
      addresses: [`127.0.0.1:${closed}`, `127.0.0.1:${good.server.port}`],
      random: () => 0,
      backoff: { initialMs: 30_000, maxMs: 30_000 },
      log,
    });
    links.push(link);
    await good.service.enforceHost('web-01', { kind: 'smtp_block' }, 'seen live', 'olga');
    const started = performance.now();
    link.start();
    await waitFor('the state from the second address', () => received.length === 1, 5_000);
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(lines.map((l) => l.msg)).toEqual(['controller unreachable, trying the next one', 'connected to controller']);
    expect(lines[0]).toMatchObject({ address: `127.0.0.1:${closed}`, next: `127.0.0.1:${good.server.port}` });
  });

  it('gives up on a controller that never answers after the connect timeout, and tries the next', async () => {
    // Takes the TCP connection and says nothing: what a hung process or a black hole looks like to the agent.
    const held: Socket[] = [];
    const silent = createServer((sock) => void held.push(sock));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const good = await startController();
      const { log, lines } = recordingLog('info');
      const { link } = testLink(pki.material('agent-web-01'), 0, 'web-01', {
        addresses: [`127.0.0.1:${(silent.address() as AddressInfo).port}`, `127.0.0.1:${good.server.port}`],
        random: () => 0,
        connectTimeoutMs: 700,
        backoff: { initialMs: 30_000, maxMs: 30_000 },
        log,
      });
      links.push(link);
      const started = performance.now();
      link.start();
      await waitFor('the agent on the second controller', () => link.status().connected, 5_000);
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(650);
      expect(took).toBeLessThan(3_000);
      expect(lines[0]).toMatchObject({ msg: 'controller unreachable, trying the next one', err: 'no answer to the Hello within 700 ms' });
    } finally {
      for (const sock of held) sock.destroy();
      silent.close();
    }
  });

  it('skips a controller whose certificate does not carry the name, logs why, and takes nothing from it', async () => {
    // Same CA, but a controller certificate for another name only: trusted, and still not the controller asked for.
    const impostor = await startController({ tls: controllerCertFor('other.example') });
    // The impostor holds a newer generation than the real one: the agent must still never take it.
    await impostor.service.enforceHost('web-01', { kind: 'nic_down' }, 'not the real controller', 'olga');
    await impostor.service.enforceHost('web-01', { kind: 'isolate' }, 'not the real controller', 'olga');
    const good = await startController();
    await good.service.enforceHost('web-01', { kind: 'smtp_block' }, 'seen live', 'olga');

    const { log, lines } = recordingLog('info');
    const { link, received } = testLink(pki.material('agent-web-01'), 0, 'web-01', {
      addresses: [`127.0.0.1:${impostor.server.port}`, `127.0.0.1:${good.server.port}`],
      random: () => 0,
      log,
    });
    links.push(link);
    link.start();
    await waitFor('the state from the real controller', () => received.length === 1, 5_000);
    expect(received[0]!.enforcements.map((e) => e.action?.$case)).toEqual(['smtpBlock']);
    const skipped = lines.find((l) => l.address === `127.0.0.1:${impostor.server.port}`);
    expect(skipped).toMatchObject({ msg: 'controller unreachable, trying the next one', next: `127.0.0.1:${good.server.port}` });
    // The reason as TLS gives it: the name is not in the certificate.
    expect(String(skipped!.err)).toMatch(/altnames|certificate/i);
    // It never got as far as a Hello.
    expect(impostor.server.sessions.get('web-01')).toBeUndefined();
    await link.stop();
    expect(received.every((s) => s.enforcements.every((e) => e.action?.$case === 'smtpBlock'))).toBe(true);
  });

  it('dials every address a DNS name resolves to, verifying the name, not the IP', async () => {
    // The certificate names only controllers.test: verifying the IP it resolved to would fail.
    const tls = controllerCertFor('controllers.test');
    const a = await startController({ tls });
    const b = await startController({ tls, listen: `127.0.0.2:${a.server.port}` });
    await b.service.enforceHost('web-01', { kind: 'smtp_block' }, 'seen live', 'olga');
    const { log, lines } = recordingLog('info');
    const looked: string[] = [];
    const { link, received } = testLink(pki.material('agent-web-01'), 0, 'web-01', {
      address: `controllers.test:${a.server.port}`,
      serverName: '',
      random: () => 0,
      // The system resolver is not ours to change: the name's two A records come from here, through the same path.
      lookup: async (host) => (looked.push(host), [{ address: '127.0.0.2', family: 4 }, { address: '127.0.0.1', family: 4 }]),
      log,
    });
    links.push(link);
    link.start();
    // Sorted, and random() = 0: the first is 127.0.0.1, controller a.
    await waitFor('the agent on the first address', () => a.server.sessions.get('web-01')?.state === 'connected');
    // The controller registers the session before the agent has logged its side of it.
    await waitFor('the agent to log the connection', () => connectedTo(lines).length > 0);
    expect(connectedTo(lines)).toEqual([`controllers.test:${a.server.port} (127.0.0.1)`]);
    await stopController(a);
    await waitFor('the state from the second address', () => received.length === 1, 10_000);
    await waitFor('the agent to log the second connection', () => connectedTo(lines).length > 1);
    expect(connectedTo(lines)).toEqual([`controllers.test:${a.server.port} (127.0.0.1)`, `controllers.test:${a.server.port} (127.0.0.2)`]);
    // Resolved at each dial, not once.
    expect(looked.length).toBeGreaterThanOrEqual(2);
    expect(new Set(looked)).toEqual(new Set(['controllers.test']));
  });

  it('in poll mode, polls the next controller at once when the first is not there', async () => {
    const good = await startController();
    await good.service.enforceHost('web-01', { kind: 'smtp_block' }, 'seen live', 'olga');
    const closed = await freePort();
    const { log, lines } = recordingLog('info');
    const received: bigint[] = [];
    const link = new PollingLink({
      hostId: 'web-01',
      agentVersion: 'test-poll',
      addresses: [`127.0.0.1:${closed}`, `127.0.0.1:${good.server.port}`],
      serverName: 'localhost',
      random: () => 0,
      tls: pki.material('agent-web-01'),
      heartbeatMs: 1_000,
      backoff: { initialMs: 50, maxMs: 500 },
      log,
      // Long enough that a retry at the next tick would show.
      pollMs: 30_000,
      settleMs: 150,
      held: () => ({ generation: received.at(-1) ?? 0n, observedDigest: 'd', interfaces: [] }),
      onDesiredState: async (state) => {
        received.push(state.generation);
        return { appliedGeneration: state.generation, observedDigest: 'd', observedAt: new Date(), error: '', results: [] };
      },
    });
    links.push(link);
    link.start();
    await waitFor('the state from the second controller, in the first tick', () => received.length === 1, 5_000);
    await waitFor('the poll to end', () => lines.some((l) => l.msg === 'polling controller'));
    expect(lines.map((l) => [l.msg, l.address])).toEqual([
      ['poll failed, trying the next controller', `127.0.0.1:${closed}`],
      ['polling controller', `127.0.0.1:${good.server.port}`],
    ]);
  });
});
