// Fleet benchmark (issue 8): N simulated agents -- real ControllerLinks from
// dist/, real gRPC over mutual TLS on 127.0.0.1, one certificate each, spread
// over worker processes (fleet-agents.mjs) -- connected to one controller
// (runController from dist/, a real SQLite file) in its own process. Measures:
//   1. time until all N are connected (controller and agents agree);
//   2. controller RSS and CPU at idle with heartbeats (the agents' default interval);
//   3. a desired state pushed to --push-hosts hosts the real way: one operator
//      asks for a mass smtp_block over DeskService.Enforce, a second approves
//      (four eyes); from the Approve call (the decision) to each host's Report
//      arriving at the controller: p50/p99/max, and where the time goes;
//   4. a reconnect storm: kill -9 the controller, restart it on the same SQLite
//      file and port, time until all N are connected again.
//
//   npm run build && node test/bench/fleet.mjs [--agents 1000] [--per-worker 1000] [--idle-seconds 20]
//     [--push-hosts 1000] [--spread-seconds 0] [--profile DIR] [--pki-cache DIR]
//     [--reconnect-rate N] [--heartbeat-seconds N] [--restricted-heartbeat-seconds N] [--agent-keepalive-seconds N] [--ping-seconds N] [--controller-node-flags "--flag …"] [--controller-env "NAME=value …"]
//   node test/bench/fleet.mjs --agents 10000        # the big run
//
// --reconnect-rate sets the controller's agents.reconnectRatePerSecond (the
// admission pacing its pings tell; 0: none), --heartbeat-seconds the agents'
// heartbeat, --controller-node-flags the controller's node flags (default:
// those of the #! line of controller/main.ts, as the unit runs it).
//
// --spread-seconds N starts each agent after a uniform draw up to N seconds
// (what a fleet does after its controller restarts: reconnect.spreadMs,
// 10 s by default) instead of all in the same instant; 0, the default,
// starts them all at once (a cold start of the whole fleet, the worst case).
//
// --profile DIR writes the controller's CPU profile of each phase (and a
// sampling heap profile at the end of the idle window) to DIR and prints the
// top functions. Agent certificates are cached in --pki-cache (default
// $TMPDIR/cordon-fleet-pki; see lib/fleetPki.mjs). Everything else lives in
// a temporary folder removed at exit, with every child process.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineTicks, stealPct } from './lib/steal.mjs';
import { stopWorkers } from './lib/workers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    agents: { type: 'string', default: '1000' },
    'per-worker': { type: 'string', default: '1000' },
    'idle-seconds': { type: 'string', default: '20' },
    'push-hosts': { type: 'string', default: '1000' },
    'spread-seconds': { type: 'string', default: '0' },
    'agent-impl': { type: 'string', default: 'light' },
    'connect-timeout': { type: 'string', default: '300' },
    'storm-timeout': { type: 'string', default: '300' },
    'pki-cache': { type: 'string', default: join(tmpdir(), 'cordon-fleet-pki') },
    'log-level': { type: 'string', default: 'info' },
    // agents.reconnectRatePerSecond (admission pacing); the controller's default unless given; 0 turns it off.
    'reconnect-rate': { type: 'string' },
    'heartbeat-seconds': { type: 'string' },
    // The agents' heartbeat while they hold a restriction (default the agent's, agent/config.ts).
    'restricted-heartbeat-seconds': { type: 'string' },
    // The controller's agents.pingIntervalSeconds (default: controller/config.ts).
    'ping-seconds': { type: 'string' },
    // The light agents' HTTP/2 keepalive ping interval (default the agent's 20 s).
    'agent-keepalive-seconds': { type: 'string' },
    // V8 flags for the controller's process, e.g. --controller-node-flags=--max-semi-space-size=32 (default: the controller's own, read from the #! of controller/main.ts).
    'controller-node-flags': { type: 'string' },
    // Environment for the controller's process only, e.g. --controller-env "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2".
    'controller-env': { type: 'string' },
    profile: { type: 'string' },
    // Internal: this file is also the controller's process.
    'serve-controller': { type: 'boolean', default: false },
    db: { type: 'string' },
    port: { type: 'string' },
    'profile-boot': { type: 'boolean', default: false },
  },
});
const now = () => performance.timeOrigin + performance.now();

if (flags['serve-controller']) await serveController();
else await drive();

// ---------------------------------------------------------------------------
// The controller process: runController() as cordon-controller's main wires
// it (defaults of controller/config.ts; metrics on; the switch fallback on
// with its SSH driver but no switch ports; no mail transport and no BMC
// driver: mail stays queued and smtp_block needs no BMC check), JSON logs at
// info on stdout, which the driver sends to a file.
async function serveController() {
  const { Session } = await import('node:inspector/promises');
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const { runController } = await import('../../dist/controller/runController.js');
  const { Store } = await import('../../dist/controller/store/Store.js');
  const { DEFAULT_POLICY } = await import('../../dist/controller/incidents/policy.js');
  const { controllerSchema } = await import('../../dist/controller/config.js');
  const { SshSwitchDriver } = await import('../../dist/controller/switch/SshSwitchDriver.js');
  const { createRootLogger } = await import('../../dist/proto/runtime/logger.js');
  const { loadTlsMaterial } = await import('../../dist/proto/runtime/tls.js');

  const profiler = flags.profile ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('HeapProfiler.enable');
    if (flags['profile-boot']) await profiler.post('Profiler.start');
    else await profiler.post('HeapProfiler.startSampling', { samplingInterval: 32768 });
  }
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const pki = flags['pki-cache'];
  const tls = loadTlsMaterial({ ca: join(pki, 'ca.crt'), cert: join(pki, 'controller.crt'), key: join(pki, 'controller.key') });
  const log = createRootLogger({ name: 'cordon-controller', level: flags['log-level'] });
  const store = await Store.open(flags.db);
  const d = (o) => o.default;
  const controller = await runController({
    listen: `127.0.0.1:${flags.port}`,
    tls,
    revokedSerialsFile: join(pki, 'revoked-serials'),
    staleAfterMissedHeartbeats: d(controllerSchema.agents.staleAfterMissedHeartbeats),
    pingIntervalMs: (flags['ping-seconds'] !== undefined ? Number(flags['ping-seconds']) : d(controllerSchema.agents.pingIntervalSeconds)) * 1000,
    reconnectRatePerSecond: flags['reconnect-rate'] !== undefined ? Number(flags['reconnect-rate']) : d(controllerSchema.agents.reconnectRatePerSecond),
    helloTimeoutMs: d(controllerSchema.agents.helloTimeoutSeconds) * 1000,
    store,
    policy: DEFAULT_POLICY,
    smtpRelays: [],
    metricsListen: '127.0.0.1:0',
    switchFallback: {
      driver: new SshSwitchDriver({ log: log.child({ component: 'switch' }) }),
      settings: {
        silentSeconds: d(controllerSchema.switchFallback.silentSeconds),
        tamperThreshold: d(controllerSchema.switchFallback.tamperThreshold),
        tamperWindowSeconds: d(controllerSchema.switchFallback.tamperWindowSeconds),
        sweepMs: d(controllerSchema.switchFallback.sweepSeconds) * 1000,
      },
    },
    mail: undefined,
    log,
  });
  // Instrumentation, not behaviour: when each report reaches the controller's
  // stream handler (startController calls reports.onReport through this property).
  const arrivals = new Map();
  let reportsReceived = 0;
  const onReport = controller.reports.onReport.bind(controller.reports);
  controller.reports.onReport = (hostId, report) => {
    reportsReceived++;
    const g = Number(report.appliedGeneration);
    if (arrivals.get(hostId)?.[0] !== g) arrivals.set(hostId, [g, now()]);
    onReport(hostId, report);
  };
  // Hosts with an open session, kept up to date by wrapping the registry's
  // open/closed, so the driver can poll often without walking 10,000 sessions.
  const sessions = controller.server.sessions;
  const open = new Set();
  const openSession = sessions.open.bind(sessions);
  const closedSession = sessions.closed.bind(sessions);
  sessions.open = (info) => {
    open.add(info.hostId);
    return openSession(info);
  };
  sessions.closed = (hostId, token, reason) => {
    closedSession(hostId, token, reason);
    if (sessions.get(hostId)?.state === 'disconnected') open.delete(hostId);
  };
  const { hostIdOf } = await import('./lib/fleetPki.mjs');
  const ids = Array.from({ length: Number(flags.agents) }, (_, i) => hostIdOf(i));
  /** The full count by state (walks every session: for occasional checks). */
  const sessionCounts = () => {
    const c = { connected: 0, stale: 0, disconnected: 0, absent: 0 };
    for (const id of ids) c[sessions.get(id)?.state ?? 'absent']++;
    return c;
  };
  const reply = (msg, body) => process.send({ ...body, id: msg.id });
  // Garbage collections by kind (minor, major, incremental, weakcb), with their main-thread pause.
  const gcs = new Map();
  const { PerformanceObserver, constants: perf } = await import('node:perf_hooks');
  const gcKind = { [perf.NODE_PERFORMANCE_GC_MINOR]: 'minor', [perf.NODE_PERFORMANCE_GC_MAJOR]: 'major', [perf.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [perf.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = gcKind[e.detail?.kind] ?? String(e.detail?.kind);
      const g = gcs.get(kind) ?? { n: 0, pauseMs: 0 };
      g.n++;
      g.pauseMs += e.duration;
      gcs.set(kind, g);
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (msg) => {
    try {
      switch (msg.type) {
        case 'sessions':
          // Open sessions, stale or not; 'memory' gives the full count by state.
          return reply(msg, { connected: open.size, stale: 0 });
        case 'memory': {
          const v8 = await import('node:v8');
          const spaces = v8.getHeapSpaceStatistics();
          const heapSpaces = Object.fromEntries(spaces.map((s) => [s.space_name, s.space_used_size]));
          const heapSpaceSizes = Object.fromEntries(spaces.map((s) => [s.space_name, s.space_size]));
          return reply(msg, { memory: process.memoryUsage(), heapSpaces, heapSpaceSizes, ...sessionCounts() });
        }
        case 'lag': {
          const r = { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 };
          if (msg.reset) lag.reset();
          return reply(msg, r);
        }
        case 'gc': {
          // The collections since the last ask, by kind: what V8's helper threads' CPU in a window goes to.
          const byKind = Object.fromEntries([...gcs].map(([kind, g]) => [kind, { ...g }]));
          if (msg.reset) gcs.clear();
          return reply(msg, { byKind });
        }
        case 'arrived': {
          let n = 0;
          for (const h of msg.hosts) if ((arrivals.get(h)?.[1] ?? 0) >= msg.since) n++;
          return reply(msg, { n, reportsReceived });
        }
        case 'push-result': {
          // Wait until every report received so far is processed (incidents moved, mail queued).
          let seen;
          do {
            seen = reportsReceived;
            await controller.reports.idle();
          } while (seen !== reportsReceived);
          const processedAt = now();
          const hosts = [];
          for (const h of msg.hosts) {
            const desired = await store.desired.get(h);
            hosts.push([h, desired.generation, desired.issuedAt?.getTime() ?? null, ...(arrivals.get(h) ?? [null, null])]);
          }
          const states = await store.db.all('SELECT state, count(*) AS n FROM incidents GROUP BY state');
          const metrics = await fetch(`http://127.0.0.1:${controller.metricsPort}/metrics`).then((r) => r.text());
          return reply(msg, { hosts, processedAt, states, dispatch: metrics.split('\n').filter((l) => l.startsWith('cordon_dispatch_seconds_')) });
        }
        case 'profile-start':
          await profiler.post('Profiler.start');
          return reply(msg, {});
        case 'profile-stop': {
          const { profile } = await profiler.post('Profiler.stop');
          writeFileSync(msg.file, JSON.stringify(profile));
          return reply(msg, {});
        }
        case 'heap-profile': {
          const { profile } = await profiler.post('HeapProfiler.getSamplingProfile');
          writeFileSync(msg.file, JSON.stringify(profile));
          return reply(msg, {});
        }
        case 'heap-snapshot': {
          const v8 = await import('node:v8');
          v8.writeHeapSnapshot(msg.file);
          return reply(msg, { memory: process.memoryUsage() });
        }
        case 'stop':
          await controller.stop(2_000);
          await store.close();
          reply(msg, {});
          return process.exit(0);
      }
    } catch (err) {
      reply(msg, { error: String(err?.stack ?? err) });
    }
  });
  process.send({ type: 'ready', port: controller.server.port, metricsPort: controller.metricsPort, readyAt: now() });
}

// ---------------------------------------------------------------------------
// The driver.
async function drive() {
  const { fleetPki, hostIdOf } = await import('./lib/fleetPki.mjs');
  const { Store } = await import('../../dist/controller/store/Store.js');
  const { agentSchema } = await import('../../dist/agent/config.js');
  const { controllerSchema } = await import('../../dist/controller/config.js');
  const { DeskServiceClient } = await import('../../dist/proto/gen/cordon/v1/desk.js');
  const { callUnary, clientChannel } = await import('../../dist/proto/runtime/rpcClient.js');
  const { loadTlsMaterial } = await import('../../dist/proto/runtime/tls.js');

  const N = Number(flags.agents);
  const PER = Number(flags['per-worker']);
  const IDLE_S = Number(flags['idle-seconds']);
  const PUSH = Math.min(N, Number(flags['push-hosts']));
  const CONNECT_TIMEOUT_MS = Number(flags['connect-timeout']) * 1000;
  const STORM_TIMEOUT_MS = Number(flags['storm-timeout']) * 1000;
  // The agents' heartbeat: their default (agent/config.ts heartbeatSeconds) unless --heartbeat-seconds says otherwise.
  const HEARTBEAT_MS = (flags['heartbeat-seconds'] !== undefined ? Number(flags['heartbeat-seconds']) : agentSchema.heartbeatSeconds.default) * 1000;
  const RESTRICTED_HEARTBEAT_MS = (flags['restricted-heartbeat-seconds'] !== undefined ? Number(flags['restricted-heartbeat-seconds']) : agentSchema.restrictedHeartbeatSeconds.default) * 1000;
  const KEEPALIVE_S = flags['agent-keepalive-seconds'] ?? `max(20, heartbeat) = ${Math.max(20, HEARTBEAT_MS / 1000)}`;
  const { controllerSchema: ctlSchema } = await import('../../dist/controller/config.js');
  const RECONNECT_RATE = flags['reconnect-rate'] ?? ctlSchema.agents.reconnectRatePerSecond.default;
  const BACKOFF = { initialMs: agentSchema.reconnect.initialMs.default, maxMs: agentSchema.reconnect.maxMs.default, spreadMs: agentSchema.reconnect.spreadMs.default };
  for (const [k, v] of Object.entries({ N, PER, IDLE_S, PUSH })) if (!(Number.isInteger(v) && v > 0)) throw new Error(`bad ${k}: ${v}`);
  const profileDir = flags.profile ? resolve(flags.profile) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  const work = mkdtempSync(join(tmpdir(), 'cordon-fleet-'));
  const children = new Set();
  let controller;
  const workers = [];
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  const say = (s) => console.log(s);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;

  /** Node in its own process, under sh for the file-descriptor limit, with an IPC channel. */
  function spawnNode(args, { out, nice = 0, env = process.env } = {}) {
    const fd = out ? openSync(out, 'a') : 'inherit';
    const child = spawn(
      'sh',
      ['-c', `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec nice -n ${nice} "$0" "$@"`, process.execPath, ...args],
      { stdio: ['ignore', fd, 'inherit', 'ipc'], env },
    );
    if (typeof fd === 'number') closeSync(fd);
    children.add(child);
    child.on('exit', () => children.delete(child));
    const pending = new Map();
    let seq = 0;
    child.on('message', (m) => {
      if (m.id !== undefined && pending.has(m.id)) {
        pending.get(m.id)(m);
        pending.delete(m.id);
      }
    });
    child.ask = (type, body = {}, timeoutMs = 120_000) =>
      new Promise((res, rej) => {
        const id = ++seq;
        const timer = setTimeout(() => rej(new Error(`no answer to ${type} within ${timeoutMs} ms`)), timeoutMs);
        pending.set(id, (m) => {
          clearTimeout(timer);
          if (m.error) rej(new Error(`controller: ${m.error}`));
          else res(m);
        });
        child.send({ type, id, ...body });
      });
    child.exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
    return child;
  }

  function waitFor(child, type, timeoutMs) {
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no ${type} within ${timeoutMs} ms`)), timeoutMs);
      const onMsg = (m) => {
        if (m.type === type) {
          clearTimeout(timer);
          child.off('message', onMsg);
          res(m);
        }
      };
      child.on('message', onMsg);
      child.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        rej(new Error(`process exited (${signal ?? code}) before ${type}`));
      });
    });
  }

  async function startController(port, { profileBoot = false } = {}) {
    const args = [fileURLToPath(import.meta.url), '--serve-controller', '--db', join(work, 'cordon.db'), '--port', String(port), '--pki-cache', pkiDir, '--log-level', flags['log-level'], '--agents', String(N), ...(flags['reconnect-rate'] !== undefined ? ['--reconnect-rate', flags['reconnect-rate']] : []), ...(flags['ping-seconds'] !== undefined ? ['--ping-seconds', flags['ping-seconds']] : [])];
    if (profileDir) args.push('--profile', profileDir, ...(profileBoot ? ['--profile-boot'] : []));
    const child = spawnNode([...controllerNodeFlags(), ...args], { out: join(work, 'controller.log'), env: controllerEnv() });
    const ready = await waitFor(child, 'ready', 120_000);
    return Object.assign(child, { readyAt: ready.readyAt, metricsPort: ready.metricsPort });
  }

  /** The controller's environment: this one plus --controller-env's NAME=value pairs. */
  function controllerEnv() {
    const extra = (flags['controller-env'] ?? '').split(/\s+/).filter(Boolean).map((kv) => /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(kv) ?? (() => { throw new Error(`--controller-env: ${kv} is not NAME=value`); })());
    return { ...process.env, ...Object.fromEntries(extra.map((m) => [m[1], m[2]])) };
  }

  /** The node flags the controller runs with: given, or those of its #! line (as the unit runs it). */
  function controllerNodeFlags() {
    if (flags['controller-node-flags'] !== undefined) return flags['controller-node-flags'].split(/\s+/).filter(Boolean);
    const shebang = readFileSync(join(HERE, '../../controller/main.ts'), 'utf8').split('\n')[0];
    return (/^#!\/usr\/bin\/env -S node\s*(.*)$/.exec(shebang)?.[1] ?? '').split(/\s+/).filter((f) => f.startsWith('--') && !f.startsWith('--disable-warning'));
  }

  /** utime+stime of a process in ms, and its RSS in bytes, from /proc. */
  function procSample(pid) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const userMs = (Number(f[11]) * 1000) / 100; // CLK_TCK is 100 on Linux
    const sysMs = (Number(f[12]) * 1000) / 100;
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
    return { at: now(), cpuMs: userMs + sysMs, userMs, sysMs, rss };
  }


  /** CPU ms (user, system) of each thread of a process, by thread name (comm), from /proc/PID/task. */
  function threadSample(pid) {
    const byName = new Map();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let stat;
      try { stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); } catch { continue; }
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '').trim();
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = tid === String(pid) ? 'main' : name;
      const t = byName.get(key) ?? { userMs: 0, sysMs: 0, threads: 0 };
      t.userMs += (Number(f[11]) * 1000) / 100;
      t.sysMs += (Number(f[12]) * 1000) / 100;
      t.threads++;
      byName.set(key, t);
    }
    return byName;
  }

  /** ESTABLISHED TCP sockets whose local port is `port` (the controller's side of each agent's connection). */
  function establishedTo(port) {
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    let n = 0;
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '01') n++;
    }
    return n;
  }

  const agentTotals = () =>
    workers.reduce(
      (t, w) => ({
        connected: t.connected + (w.status?.connected ?? 0),
        sessions: t.sessions + (w.status?.sessions ?? 0),
        failedAttempts: t.failedAttempts + (w.status?.failedAttempts ?? 0),
        rss: t.rss + (w.status?.rss ?? 0),
        cpuMs: t.cpuMs + (w.status?.cpuMs ?? 0),
        errors: Object.entries(w.status?.errors ?? {}).reduce((e, [k, v]) => ({ ...e, [k]: (e[k] ?? 0) + v }), t.errors),
        attempts: Object.entries(w.status?.attempts ?? {}).reduce((e, [k, v]) => ({ ...e, [k]: (e[k] ?? 0) + v }), t.attempts),
      }),
      { connected: 0, sessions: 0, failedAttempts: 0, rss: 0, cpuMs: 0, errors: {}, attempts: {} },
    );

  /** Polls until the controller and the agents both see all N connected; returns when each side got there. */
  async function untilAllConnected(since, timeoutMs, label) {
    const deadline = now() + timeoutMs;
    let agentsAt;
    let controllerAt;
    let lastPrint = now();
    const marks = [50, 90, 99];
    const reached = {};
    const cpu0 = workers.reduce((t, w) => t + (w.status?.cpuMs ?? 0), 0);
    for (const w of workers) w.lagMaxMs = 0;
    await controller.ask('lag', { reset: true });
    while (now() < deadline) {
      const a = agentTotals();
      if (agentsAt === undefined && a.connected === N && workers.every((w) => w.status?.at > since)) agentsAt = now();
      const c = await controller.ask('sessions');
      for (const m of marks) if (reached[m] === undefined && c.connected >= (m / 100) * N) reached[m] = now() - since;
      if (controllerAt === undefined && c.connected === N) controllerAt = now();
      if (agentsAt !== undefined && controllerAt !== undefined) {
        const milestones = marks.map((m) => `${m}% ${secs(reached[m])}`).join(', ');
        const lag = await controller.ask('lag', { reset: true });
        const agentLag = Math.max(...workers.map((w) => w.lagMaxMs ?? 0));
        return { agentsAt, controllerAt, milestones, agentCpuMs: agentTotals().cpuMs - cpu0, lag, agentLag };
      }
      if (now() - lastPrint > (process.env.FLEET_DEBUG ? 1_000 : 10_000)) {
        lastPrint = now();
        say(`  ... ${label}: ${secs(now() - since)}: agents connected ${a.connected}, controller sessions open ${c.connected}, failed attempts now ${a.failedAttempts}; why the last ones failed: ${JSON.stringify(Object.entries(a.errors).sort((x, y) => y[1] - x[1]).slice(0, 3))}${process.env.FLEET_DEBUG ? ` backoff steps of the disconnected: ${JSON.stringify(a.attempts)}` : ''}`);
      }
      await sleep(200);
    }
    const a = agentTotals();
    throw new Error(`${label}: not all ${N} connected within ${timeoutMs / 1000} s (agents: ${a.connected}; errors: ${JSON.stringify(a.errors).slice(0, 500)})`);
  }

  function profileSummary(file, top = 12) {
    const p = JSON.parse(readFileSync(file, 'utf8'));
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const self = new Map();
    const dt = new Map();
    p.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
    let total = 0;
    const groups = new Map();
    for (const [id, us] of dt) {
      const n = byId.get(id);
      const cf = n.callFrame;
      const url = cf.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/');
      const key = `${cf.functionName || '(anonymous)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim();
      self.set(key, (self.get(key) ?? 0) + us);
      const group = !cf.url
        ? cf.functionName.startsWith('(') ? cf.functionName : 'native/builtin'
        : /@grpc\/grpc-js/.test(cf.url) ? '@grpc/grpc-js'
          : /node_modules\/sqlite3/.test(cf.url) ? 'sqlite3'
            : /node_modules\/pino|sonic-boom/.test(cf.url) ? 'pino'
              : /node_modules\//.test(cf.url) ? 'other node_modules'
                : /^node:/.test(cf.url) ? 'node: internals'
                  : /dist\/proto\/gen/.test(cf.url) ? 'generated protobuf code'
                    : /dist\//.test(cf.url) ? 'cordon code'
                      : 'other';
      groups.set(group, (groups.get(group) ?? 0) + us);
      total += us;
    }
    const busy = total - (groups.get('(idle)') ?? 0);
    const fmt = (us) => `${(us / 1000).toFixed(0)} ms (${((100 * us) / Math.max(busy, 1)).toFixed(1)}% of busy)`;
    const lines = [`    profile ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(2)} s busy`];
    lines.push(`    by area: ${[...groups].filter(([g]) => g !== '(idle)').sort((a, b) => b[1] - a[1]).map(([g, us]) => `${g} ${fmt(us)}`).join('; ')}`);
    for (const [k, us] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`      ${fmt(us).padEnd(28)} ${k}`);
    return lines.join('\n');
  }

  function heapSummary(file, top = 12) {
    const p = JSON.parse(readFileSync(file, 'utf8'));
    const self = new Map();
    let total = 0;
    const walk = (n) => {
      const size = n.selfSize;
      const cf = n.callFrame;
      const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')}:${cf.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + size);
      total += size;
      n.children.forEach(walk);
    };
    walk(p.head);
    const lines = [`    heap profile ${file}: ${mib(total)} live in sampled allocations (JS heap only; TLS and HTTP/2 native memory is not in it)`];
    for (const [k, b] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`      ${mib(b).padStart(8)}  ${k}`);
    return lines.join('\n');
  }

  const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  const dist = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? `p50 ${secs(pct(s, 50))}, p99 ${secs(pct(s, 99))}, max ${secs(s.at(-1))}` : 'none';
  };

  const pkiDir = join(resolve(flags['pki-cache']), 'pki');
  let ok = false;
  try {
    say(`fleet bench: ${N} agents in ${Math.ceil(N / PER)} worker processes, one controller; ${availableParallelism()} CPUs (${cpus()[0]?.model.trim()}), ${mib(totalmem())} RAM, node ${process.version}, ${new Date().toISOString()}`);
    say(`  heartbeat ${HEARTBEAT_MS / 1000} s (${Math.min(RESTRICTED_HEARTBEAT_MS, HEARTBEAT_MS) / 1000} s while restricted) and reconnect backoff ${BACKOFF.initialMs}..${BACKOFF.maxMs} ms, first redial after a lost stream spread over ${BACKOFF.spreadMs} ms (agent defaults, agent/config.ts, unless given) or over open sessions ÷ ${RECONNECT_RATE}/s as the controller tells (agents.reconnectRatePerSecond; 0: not told), whichever is longer; controller defaults of controller/config.ts; log level ${flags['log-level']} to a file`);

    // PKI (cached) -------------------------------------------------------------
    let t0 = now();
    const pki = await fleetPki(resolve(flags['pki-cache']), N, { log: (s) => say(`  ${s}`) });
    if (pki.stats.scriptMsPerAgent) say(`  cordon-pki issue-agent takes ${pki.stats.scriptMsPerAgent.toFixed(0)} ms per agent (so ${secs(pki.stats.scriptMsPerAgent * N)} for ${N}); bulk path used instead`);
    say(`pki: ${pki.stats.issued ? `${pki.stats.issued} agent certificates issued in ${secs(pki.stats.issueMs)} (${(pki.stats.issueMs / pki.stats.issued).toFixed(1)} ms each, all lanes)` : 'all agent certificates from the cache'} ${pki.root}`);

    // Inventory ---------------------------------------------------------------
    t0 = now();
    const store = await Store.open(join(work, 'cordon.db'));
    const hostIds = Array.from({ length: N }, (_, i) => hostIdOf(i));
    await store.hosts.upsertMany(
      hostIds.map((id, i) => ({
        id,
        // One customer per host: a mass action must not trip recidivism reviews by accident.
        customerId: `cust-${i}`,
        publicPrefixes: [`100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`],
        managementAddress: `10.255.${(i >> 8) & 255}.${i & 255}`,
      })),
    );
    await store.close();
    say(`inventory: ${N} hosts in a fresh SQLite file (${secs(now() - t0)})`);

    // Controller --------------------------------------------------------------
    const port = await new Promise((res, rej) => {
      const s = createServer();
      s.on('error', rej);
      s.listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => res(p));
      });
    });
    t0 = now();
    controller = await startController(port);
    await sleep(2_000);
    const empty = procSample(controller.pid);
    const emptyMem = (await controller.ask('memory')).memory;
    const emptySnapshot = profileDir ? join(profileDir, 'empty.heapsnapshot') : undefined;
    const emptyAfterGc = emptySnapshot ? (await controller.ask('heap-snapshot', { file: emptySnapshot }, 600_000)).memory : undefined;
    say(`controller: pid ${controller.pid} on 127.0.0.1:${port}, ready in ${secs(controller.readyAt - t0)}, RSS with no agents (2 s later) ${mib(empty.rss)}`);

    // Connect -------------------------------------------------------------------
    if (profileDir) await controller.ask('profile-start');
    const address = `127.0.0.1:${port}`;
    const connectStart = now();
    const connectCpu = procSample(controller.pid);
    for (let from = 0; from < N; from += PER) {
      // The simulated agents share this machine's cores with the controller, which
      // in a real fleet has its own; niced, they cannot starve it (they still slow it).
      const w = spawnNode([join(HERE, 'fleet-agents.mjs')], { nice: 10 });
      w.on('message', (m) => {
        if (m.type === 'status') {
        w.lagMaxMs = Math.max(w.lagMaxMs ?? 0, m.lagMaxMs);
        w.status = { ...m, at: now() };
      }
      });
      w.send({ type: 'start', address, ca: pki.ca, key: pki.agentKey, certDir: pki.agentDir, hostIds: hostIds.slice(from, from + PER), heartbeatMs: HEARTBEAT_MS, restrictedHeartbeatMs: RESTRICTED_HEARTBEAT_MS, ...(flags['agent-keepalive-seconds'] ? { keepaliveMs: Number(flags['agent-keepalive-seconds']) * 1000 } : {}), backoff: BACKOFF, impl: flags['agent-impl'], spreadMs: Number(flags['spread-seconds']) * 1000 });
      workers.push(w);
    }
    const connected = await untilAllConnected(connectStart, CONNECT_TIMEOUT_MS, 'connect');
    const connectCpuEnd = procSample(controller.pid);
    const sockets = establishedTo(port);
    let a = agentTotals();
    say(`connect: all ${N} agents connected in ${secs(connected.controllerAt - connectStart)} (controller's view; agents' view ${secs(connected.agentsAt - connectStart)}; controller's view ${connected.milestones}), ${Number(flags['spread-seconds']) > 0 ? `started over a uniform spread of ${flags['spread-seconds']} s` : 'all started at once'} from ${workers.length} processes; ${a.sessions - N} extra sessions, ${a.failedAttempts} failed attempts pending; the agents' processes used ${secs(connected.agentCpuMs)} of CPU meanwhile`);
    say(`  the controller used ${secs(connectCpuEnd.cpuMs - connectCpu.cpuMs)} of CPU for it (${((connectCpuEnd.cpuMs - connectCpu.cpuMs) / N).toFixed(2)} ms per agent: TLS handshake, HTTP/2, Hello, session, desired-state lookup, ping)`);
    say(`  event-loop delay meanwhile: controller p99 ${connected.lag.p99.toFixed(0)} ms, max ${connected.lag.max.toFixed(0)} ms; worst agent process max ${connected.agentLag.toFixed(0)} ms (keepalive pings time out after 10 s)`);
    say(`  ${sockets} established TCP connections to the controller's port (one HTTP/2 connection per agent expected: ${sockets === N ? 'yes' : 'NO'})`);
    if (profileDir) {
      await controller.ask('profile-stop', { file: join(profileDir, 'connect.cpuprofile') });
      say(profileSummary(join(profileDir, 'connect.cpuprofile')));
    }

    // Idle ----------------------------------------------------------------------
    // Let the connect burst's garbage be collected and heartbeats settle into their rhythm: V8's memory
    // reducer runs its full collections some 8-30 s after the allocation of the burst stops, a one-off
    // that cost 1-2 % of a core in a 60-s window measured right after 10 s (BENCHMARKS §2).
    await sleep(Math.min(30_000, HEARTBEAT_MS));
    await controller.ask('lag', { reset: true });
    await controller.ask('gc', { reset: true });
    if (profileDir) await controller.ask('profile-start');
    const samples = [procSample(controller.pid)];
    const threadsBefore = threadSample(controller.pid);
    const ticksBefore = machineTicks();
    const idleEnd = now() + IDLE_S * 1000;
    // Every 20 s: the main thread's and the helpers' share, and the collections, so a one-off (a
    // collection after the connect burst) shows apart from the steady rhythm.
    const timeline = [];
    let slice = { at: now(), threads: threadsBefore };
    const gcTotals = new Map();
    const closeSlice = async () => {
      const t = threadSample(controller.pid);
      const gcNow = (await controller.ask('gc', { reset: true })).byKind;
      for (const [kind, g] of Object.entries(gcNow)) {
        const sum = gcTotals.get(kind) ?? { n: 0, pauseMs: 0 };
        sum.n += g.n;
        sum.pauseMs += g.pauseMs;
        gcTotals.set(kind, sum);
      }
      const ms = now() - slice.at;
      const share = (pick) => (100 * [...t].filter(([name]) => pick(name)).reduce((acc, [name, x]) => acc + x.userMs + x.sysMs - ((slice.threads.get(name)?.userMs ?? 0) + (slice.threads.get(name)?.sysMs ?? 0)), 0)) / ms;
      timeline.push(`${share((n) => n === 'main').toFixed(1)}+${share((n) => n !== 'main').toFixed(1)}%${gcNow.major ? ` (${gcNow.major.n} major)` : ''}`);
      slice = { at: now(), threads: t };
    };
    while (now() < idleEnd) {
      await sleep(Math.min(1_000, Math.max(0, idleEnd - now())));
      samples.push(procSample(controller.pid));
      if (now() - slice.at >= 20_000) await closeSlice();
    }
    if (now() - slice.at >= 1_000) await closeSlice();
    const first = samples[0];
    const last = samples.at(-1);
    const cpuPct = (100 * (last.cpuMs - first.cpuMs)) / (last.at - first.at);
    const rssMax = Math.max(...samples.map((s) => s.rss));
    const threadsAfter = threadSample(controller.pid);
    const gcIdle = Object.fromEntries(gcTotals);
    const lagIdle = await controller.ask('lag', { reset: true });
    const mem = await controller.ask('memory');
    a = agentTotals();
    say(`idle (${IDLE_S} s window, heartbeats every ${HEARTBEAT_MS / 1000} s and keepalive pings every ${KEEPALIVE_S} s from each agent, the controller's pings every ${flags['ping-seconds'] ?? controllerSchema.agents.pingIntervalSeconds.default} s):`);
    const userPct = (100 * (last.userMs - first.userMs)) / (last.at - first.at);
    say(`  controller CPU ${cpuPct.toFixed(1)}% of one core (user ${userPct.toFixed(1)}%: JS, OpenSSL, nghttp2, V8's helper threads; system ${(cpuPct - userPct).toFixed(1)}%: the kernel's TCP and epoll); RSS ${mib(last.rss)} (max ${mib(rssMax)}; ${((last.rss - empty.rss) / 1024 / N).toFixed(1)} KiB per agent over the empty controller)`);
    // Which threads the idle CPU goes to: the main thread (JS, OpenSSL, nghttp2, the
    // kernel's share of its syscalls), V8's helper threads (GC), libuv's pool.
    const span = last.at - first.at;
    say(`  by thread: ${[...threadsAfter].map(([name, t]) => {
      const b = threadsBefore.get(name) ?? { userMs: 0, sysMs: 0 };
      const u = (100 * (t.userMs - b.userMs)) / span;
      const k = (100 * (t.sysMs - b.sysMs)) / span;
      return { name, threads: t.threads, u, k };
    }).filter((t) => t.u + t.k > 0).sort((x, y) => y.u + y.k - x.u - x.k).map((t) => `${t.name}${t.threads > 1 ? ` ×${t.threads}` : ''} ${(t.u + t.k).toFixed(2)}% (user ${t.u.toFixed(2)}, system ${t.k.toFixed(2)})`).join('; ')}`);
    say(`  garbage collections in the window: ${Object.entries(gcIdle).map(([kind, g]) => `${kind} ${g.n} (pauses ${g.pauseMs.toFixed(0)} ms)`).join(', ') || 'none'}`);
    say(`  every 20 s, main thread + the others: ${timeline.join(', ')}; the hypervisor took ${stealPct(ticksBefore, machineTicks()).toFixed(1)} % of the machine's CPU time meanwhile (steal)`);
    const native = (m) => m.rss - m.heapTotal - m.external;
    const perAgent = (k) => `${((k(mem.memory) - k(emptyMem)) / 1024 / N).toFixed(1)} KiB`;
    say(`  memoryUsage: heapUsed ${mib(mem.memory.heapUsed)}, heapTotal ${mib(mem.memory.heapTotal)}, external ${mib(mem.memory.external)} (arrayBuffers ${mib(mem.memory.arrayBuffers)}), rest of RSS (native: OpenSSL, nghttp2, code, allocator) ${mib(native(mem.memory))}`);
    const young = (mem.heapSpaceSizes.new_space ?? 0) + (mem.heapSpaceSizes.new_large_object_space ?? 0);
    say(`  of heapTotal: young generation ${mib(young)} (new space ${mib(mem.heapSpaces.new_space ?? 0)} used), old space ${mib(mem.heapSpaceSizes.old_space ?? 0)} (${mib(mem.heapSpaces.old_space ?? 0)} used)`);
    say(`  per agent over the empty controller: heapUsed ${perAgent((m) => m.heapUsed)}, heapTotal ${perAgent((m) => m.heapTotal)}, external ${perAgent((m) => m.external)}, native rest ${perAgent(native)}`);
    say(`  event-loop delay p99 ${lagIdle.p99.toFixed(1)} ms, max ${lagIdle.max.toFixed(1)} ms; sessions: ${mem.connected} connected, ${mem.stale} stale, ${mem.disconnected} disconnected`);
    say(`  agents' side (for scale): ${workers.length} processes, RSS ${mib(a.rss)} total (${(a.rss / 1024 / N).toFixed(0)} KiB per agent)`);
    if (profileDir) {
      await controller.ask('profile-stop', { file: join(profileDir, 'idle.cpuprofile') });
      say(profileSummary(join(profileDir, 'idle.cpuprofile')));
      await controller.ask('heap-profile', { file: join(profileDir, 'idle.heapprofile') });
      say(heapSummary(join(profileDir, 'idle.heapprofile')));
      // The snapshot forces a full GC: heapUsed after it is what the heap really keeps.
      const { heapSnapshotSummary } = await import('./lib/heapSnapshot.mjs');
      const snap = await controller.ask('heap-snapshot', { file: join(profileDir, 'idle.heapsnapshot') }, 600_000);
      say(`    after the snapshot's full GC: heapUsed ${mib(snap.memory.heapUsed)} (${((snap.memory.heapUsed - emptyAfterGc.heapUsed) / 1024 / N).toFixed(1)} KiB per agent over the empty controller after its own full GC)`);
      say(heapSnapshotSummary(join(profileDir, 'idle.heapsnapshot'), { perAgent: N, baseline: emptySnapshot }));
    }

    // Push ----------------------------------------------------------------------
    const targets = Array.from({ length: PUSH }, (_, k) => hostIds[Math.floor((k * N) / PUSH)]);
    const desk = (name) => {
      const tls = loadTlsMaterial(pki.operator(name));
      const { credentials, options } = clientChannel(tls, 'localhost');
      return new DeskServiceClient(address, credentials, options);
    };
    const requester = desk('fleet-requester');
    const approver = desk('fleet-approver');
    const enforce = await callUnary(
      requester.enforce.bind(requester),
      { incidentId: '', hostIds: targets, customerId: '', reason: 'fleet bench: mass SMTP block', action: { id: '', incidentId: '', reason: '', action: { $case: 'smtpBlock', value: { ports: [], allowedRelays: [] } } } },
      { timeoutMs: 60_000 },
    );
    if (!enforce.approvalId) throw new Error(`expected a four-eyes approval for ${PUSH} hosts, got ${JSON.stringify(enforce)}`);
    if (profileDir) await controller.ask('profile-start');
    const cpuBefore = procSample(controller.pid);
    const decision = now();
    const approved = await callUnary(approver.approve.bind(approver), { approvalId: enforce.approvalId }, { timeoutMs: 300_000 });
    const approveReturned = now();
    let arrived = 0;
    const pushDeadline = now() + 120_000;
    while (now() < pushDeadline) {
      ({ n: arrived } = await controller.ask('arrived', { hosts: targets, since: decision }));
      if (arrived === PUSH) break;
      await sleep(100);
    }
    const allArrived = now();
    const lagPush = await controller.ask('lag', { reset: true });
    const result = await controller.ask('push-result', { hosts: targets }, 300_000);
    const cpuAfter = procSample(controller.pid);
    requester.close();
    approver.close();
    const receipts = new Map();
    for (const w of workers) {
      const r = (await Promise.all([waitFor(w, 'receipts', 60_000), w.send({ type: 'collect' })]))[0];
      for (const [h, g, receivedAt, reportedAt] of r.receipts) if (receivedAt >= decision) receipts.set(h, { g, receivedAt, reportedAt });
    }
    const toReport = [];
    // issued_at is taken inside the Approve's transaction, before its 1,000 incidents are written: not the commit.
    // The commit is just before the call returns, so the time after the return is what the pushes themselves take.
    const returnedToAgent = [];
    const agentToController = [];
    for (const [h, generation, , gArrived, arrivedAt] of result.hosts) {
      if (arrivedAt === null || arrivedAt < decision || gArrived !== generation) continue;
      toReport.push(arrivedAt - decision);
      const rc = receipts.get(h);
      if (rc) returnedToAgent.push(rc.receivedAt - approveReturned);
      if (rc) agentToController.push(arrivedAt - rc.reportedAt);
    }
    say(`push: smtp_block to ${PUSH} hosts (spread over all workers) by Enforce (four eyes) + Approve; decision = the Approve call:`);
    say(`  reports arrived at the controller: ${toReport.length}/${PUSH} (the last ${secs(allArrived - decision)} after the decision)`);
    say(`  decision -> report at the controller: ${dist(toReport)}`);
    say(`  where the time goes: decision -> the Approve call returned (its transaction committed) ${secs(approveReturned - decision)}; returned -> agent has it ${dist(returnedToAgent)}; agent's report -> controller ${dist(agentToController)}`);
    say(`  Approve call returned after ${secs(approveReturned - decision)} (${approved.incidentIds.length} incidents); every report processed (incidents enforced, mail queued) ${secs(result.processedAt - decision)} after the decision; incidents by state: ${result.states.map((s) => `${s.state} ${s.n}`).join(', ')}`);
    say(`  controller CPU during the push ${((100 * (cpuAfter.cpuMs - cpuBefore.cpuMs)) / (cpuAfter.at - cpuBefore.at)).toFixed(0)}% of one core; event-loop delay p99 ${lagPush.p99.toFixed(0)} ms, max ${lagPush.max.toFixed(0)} ms`);
    say(`  cordon_dispatch_seconds (the controller's own histogram: host commit -> report processed): ${result.dispatch.filter((l) => !l.includes('_bucket')).join(', ')}`);
    if (profileDir) {
      await controller.ask('profile-stop', { file: join(profileDir, 'push.cpuprofile') });
      say(profileSummary(join(profileDir, 'push.cpuprofile')));
    }

    // Reconnect storm -------------------------------------------------------------
    await sleep(2_000);
    const before = agentTotals();
    const killAt = now();
    controller.kill('SIGKILL');
    await controller.exited;
    const killed = now();
    controller = await startController(port, { profileBoot: true });
    const restarted = controller.readyAt;
    const cpuStart = procSample(controller.pid);
    const stormTicks = machineTicks();
    const storm = await untilAllConnected(restarted, STORM_TIMEOUT_MS, 'storm');
    const settled = Math.max(storm.agentsAt, storm.controllerAt);
    const cpuEnd = procSample(controller.pid);
    const stormSteal = stealPct(stormTicks, machineTicks());
    a = agentTotals();
    say(`reconnect storm: kill -9 of the controller, restart on the same SQLite file and port:`);
    say(`  controller down ${secs(killed - killAt)}, restarted and listening ${secs(restarted - killAt)} after the kill`);
    say(`  all ${N} connected again ${secs(settled - killAt)} after the kill (${secs(settled - restarted)} after the new controller listened; controller's view ${secs(storm.controllerAt - restarted)}, agents' ${secs(storm.agentsAt - restarted)}; controller's view from listening: ${storm.milestones})`);
    say(`  ${a.sessions - before.sessions} streams opened for ${N} agents; the agents' processes used ${secs(storm.agentCpuMs)} of CPU from listening to settled (they share the 2 cores with the controller); controller CPU ${((100 * (cpuEnd.cpuMs - cpuStart.cpuMs)) / (cpuEnd.at - cpuStart.at)).toFixed(0)}% of one core from listening to settled (${secs(cpuEnd.cpuMs - cpuStart.cpuMs)}, ${((cpuEnd.cpuMs - cpuStart.cpuMs) / N).toFixed(2)} ms per agent), RSS ${mib(cpuEnd.rss)}`);
    say(`  event-loop delay meanwhile: controller p99 ${storm.lag.p99.toFixed(0)} ms, max ${storm.lag.max.toFixed(0)} ms; worst agent process max ${storm.agentLag.toFixed(0)} ms; steal ${stormSteal.toFixed(1)} % of the machine's CPU time`);
    if (profileDir) {
      await controller.ask('profile-stop', { file: join(profileDir, 'storm.cpuprofile') });
      say(profileSummary(join(profileDir, 'storm.cpuprofile')));
    }
    // Does it stay settled?
    await sleep(Math.min(15_000, HEARTBEAT_MS + 5_000));
    const after = await controller.ask('memory'); // a full count by state, stale included
    a = agentTotals();
    say(`  ${secs(Math.min(15_000, HEARTBEAT_MS + 5_000))} later: controller sessions ${after.connected} connected, ${after.stale} stale; agents connected ${a.connected}; controller RSS ${mib(after.memory.rss)}, heapUsed ${mib(after.memory.heapUsed)}`);
    ok = true;
  } finally {
    // Orderly stop: agents close their streams, the controller stops; kill what does not.
    await stopWorkers(workers);
    if (controller && controller.exitCode === null && controller.signalCode === null) {
      await controller.ask('stop', {}, 10_000).catch(() => controller.kill('SIGKILL'));
    }
    if (!ok) {
      try {
        say(`controller log tail:\n${readFileSync(join(work, 'controller.log'), 'utf8').split('\n').slice(-15).join('\n')}`);
      } catch {}
    }
  }
  say(`reproduce: npm run build && node test/bench/fleet.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
  process.exit(0);
}
