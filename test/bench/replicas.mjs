// Replicas benchmark (issue 15): three real cordon-controller processes
// (dist/controller/main.js, one JSON config each, as test/integration/
// replicaKill.test.ts runs them) on one throw-away PostgreSQL cluster, and N
// simulated agents (fleet-agents.mjs: real ControllerLinks over mutual TLS,
// one certificate each) given all three in controller.addresses, so each
// starts at a random replica and moves on by itself. Measures:
//   1. each replica's RSS and CPU (/proc/<pid>/stat and status) at idle with
//      the agents connected, the total, and the PostgreSQL server's share;
//   2. a push to --push-hosts hosts across the replicas: one operator asks a
//      mass smtp_block over DeskService.Enforce on replica A, a second approves
//      it there (four eyes); from the Approve call (the decision) to each
//      agent receiving its new desired state: p50/p90/p99/max, and where the
//      time goes (agents on the deciding replica against the others, the
//      LISTEN/NOTIFY relay seen by a listener of the bench's own);
//   3. kill -9 of the replica holding the most streams while a second mass
//      action (throttle, asked on one survivor, approved on the other) is
//      being granted: time until every agent of the dead replica is connected
//      to a survivor and holds the host's final generation.
//
//   npm run build && node test/bench/replicas.mjs [--agents 1000] [--per-worker 500] [--idle-seconds 20]
//     [--push-hosts N] [--kill-delay-ms 100] [--pg-durability on|off] [--max-connections 10]
//     [--timeout 900] [--pki-cache DIR] [--log-level warn] [--profile DIR]
//
// --profile DIR runs each replica under node --cpu-prof (profiles in DIR/<replica>,
// written when it stops: the killed replica has none, so the victim is never
// the deciding replica) and prints, per phase, where each replica's main thread
// spent its time (the profile cut to the phase by CLOCK_MONOTONIC).
// Everything is bounded: each phase has its own timeout and --timeout ends the
// whole run. The replicas, the agents' processes, the cluster and the temporary
// folder are removed at exit, on failure and on Ctrl-C (lib/pgBench.mjs stops the
// cluster synchronously in an 'exit' handler). Agent certificates are cached as
// for fleet.mjs (--pki-cache, default $TMPDIR/cordon-fleet-pki).
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { fleetPki, hostIdOf } from './lib/fleetPki.mjs';
import { benchCluster, procSample } from './lib/pgBench.mjs';
import { summary } from './lib/stats.mjs';
import { stopWorkers } from './lib/workers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(HERE, '../../dist');
const { values: flags } = parseArgs({
  options: {
    agents: { type: 'string', default: '1000' },
    'per-worker': { type: 'string', default: '500' },
    'agent-impl': { type: 'string', default: 'light' },
    'idle-seconds': { type: 'string', default: '20' },
    'push-hosts': { type: 'string' },
    'kill-delay-ms': { type: 'string', default: '100' },
    'pg-durability': { type: 'string', default: 'on' },
    'pg-statements': { type: 'string', default: 'on' },
    'drain-timeout': { type: 'string', default: '180' },
    'max-connections': { type: 'string', default: '10' },
    timeout: { type: 'string', default: '900' },
    'pki-cache': { type: 'string', default: join(tmpdir(), 'cordon-fleet-pki') },
    'log-level': { type: 'string', default: 'warn' },
    profile: { type: 'string' },
  },
});
const PROFILE = flags.profile ? resolve(flags.profile) : undefined;
/** CLOCK_MONOTONIC in µs, the clock of V8's CPU profiles: phases are marked with it to cut the replicas' profiles. */
const mono = () => Number(process.hrtime.bigint() / 1000n);
const windows = [];
const N = Number(flags.agents);
const PER = Number(flags['per-worker']);
const IDLE_S = Number(flags['idle-seconds']);
const PUSH = Math.min(N, Number(flags['push-hosts'] ?? N));
const KILL_DELAY_MS = Number(flags['kill-delay-ms']);
const MAX_CONN = Number(flags['max-connections']);
for (const [k, v] of Object.entries({ N, PER, IDLE_S, PUSH, MAX_CONN })) if (!(Number.isInteger(v) && v > 0)) throw new Error(`bad ${k}: ${v}`);
for (const f of ['pg-durability', 'pg-statements']) if (!['on', 'off'].includes(flags[f])) throw new Error(`--${f}: on or off`);
const DRAIN_MS = Number(flags['drain-timeout']) * 1000;
const NAMES = ['replica-a', 'replica-b', 'replica-c'];

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (s) => console.log(s);
const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;
const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const dist = (xs) => {
  const s = summary(xs);
  return s.n ? `p50 ${secs(s.p50)}, p90 ${secs(s.p90)}, p99 ${secs(s.p99)}, max ${secs(s.max)} (n=${s.n})` : 'none';
};

const work = mkdtempSync(join(tmpdir(), 'cordon-replicas-'));
const children = new Set();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
setTimeout(() => {
  console.error(`replicas bench: --timeout ${flags.timeout} s reached; stopping everything`);
  process.exit(124);
}, Number(flags.timeout) * 1000).unref();

/** A child process, under sh for the file-descriptor limit (exec keeps the pid), with or without an IPC channel. */
function spawnChild(args, { out, nice = 0, ipc = false } = {}) {
  const fd = out ? openSync(out, 'a') : 'inherit';
  const child = spawn('sh', ['-c', `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec nice -n ${nice} "$0" "$@"`, process.execPath, ...args], {
    stdio: ['ignore', fd, typeof fd === 'number' ? fd : 'inherit', ...(ipc ? ['ipc'] : [])],
  });
  if (typeof fd === 'number') closeSync(fd);
  children.add(child);
  child.exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  child.on('exit', () => children.delete(child));
  return child;
}

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });

const tail = (file, n = 12) => {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
};

let cluster;
let db;
let listener;
let sink;
const replicas = new Map(); // name -> { name, port, metricsPort, address, config, log, proc }
const workers = [];
let ok = false;
try {
  say(`replicas bench: ${N} agents in ${Math.ceil(N / PER)} worker processes, ${NAMES.length} controller replicas on one PostgreSQL; ${availableParallelism()} CPUs (${cpus()[0]?.model.trim()}), ${mib(totalmem())} RAM, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  const { agentSchema } = await import(`${DIST}/agent/config.js`);
  const HEARTBEAT_MS = agentSchema.heartbeatSeconds.default * 1000;
  const RESTRICTED_HEARTBEAT_MS = agentSchema.restrictedHeartbeatSeconds.default * 1000;
  const BACKOFF = { initialMs: agentSchema.reconnect.initialMs.default, maxMs: agentSchema.reconnect.maxMs.default, spreadMs: agentSchema.reconnect.spreadMs.default };
  say(`  agents: heartbeat ${HEARTBEAT_MS / 1000} s (${RESTRICTED_HEARTBEAT_MS / 1000} s while restricted), reconnect ${BACKOFF.initialMs}..${BACKOFF.maxMs} ms, first redial after a lost stream spread over ${BACKOFF.spreadMs} ms (agent defaults); controller defaults but store.maxConnections ${MAX_CONN}, log level ${flags['log-level']}`);

  // PKI, cluster, mail sink, inventory -------------------------------------------
  let t0 = now();
  const pki = await fleetPki(resolve(flags['pki-cache']), N, { log: (s) => say(`  ${s}`) });
  say(`pki: ${pki.stats.issued ? `${pki.stats.issued} agent certificates issued in ${secs(pki.stats.issueMs)}` : 'all agent certificates from the cache'} (${pki.root})`);
  t0 = now();
  cluster = await benchCluster();
  const STATEMENTS = flags['pg-statements'] === 'on';
  await cluster.configure({ durable: flags['pg-durability'] === 'on', statements: STATEMENTS });
  db = new pg.Client({ connectionString: cluster.url });
  await db.connect();
  const rows = async (sql, params) => (await db.query(sql, params)).rows;
  say(`postgresql: throw-away cluster in ${cluster.dir} (Unix socket only; ${flags['pg-durability'] === 'on' ? 'fsync, synchronous_commit, full_page_writes on: durable commits' : 'fsync off: NOT durable'}${STATEMENTS ? '; pg_stat_statements loaded' : ''}), ready in ${secs(now() - t0)}`);

  /** What the database did in a phase: commits, rollbacks, races lost (server log), and the statements that took its time. */
  const dbMark = async () => {
    if (STATEMENTS) await rows('SELECT pg_stat_statements_reset()');
    const [d] = await rows("SELECT xact_commit, xact_rollback, deadlocks FROM pg_stat_database WHERE datname = current_database()");
    return { at: now(), log: Buffer.byteLength(cluster.logSince(0)), commit: Number(d.xact_commit), rollback: Number(d.xact_rollback), deadlocks: Number(d.deadlocks) };
  };
  const dbSay = async (mark, top = 8) => {
    const [d] = await rows("SELECT xact_commit, xact_rollback, deadlocks FROM pg_stat_database WHERE datname = current_database()");
    const log = cluster.logSince(mark.log);
    const serialization = (log.match(/could not serialize access/g) ?? []).length;
    const deadlocks = (log.match(/deadlock detected/g) ?? []).length;
    say(`    database: ${Number(d.xact_commit) - mark.commit} commits, ${Number(d.xact_rollback) - mark.rollback} rollbacks; races lost (server log): ${serialization} serialization failures (40001), ${deadlocks} deadlocks (40P01)`);
    if (serialization + deadlocks > 0) {
      // The statement each lost race was reported at (not always the one that caused it: SSI aborts where it notices).
      const at = new Map();
      const lines = log.split('\n');
      for (let i = 0; i < lines.length; i++) {
        if (!/could not serialize access|deadlock detected/.test(lines[i])) continue;
        const st = lines.slice(i + 1, i + 8).find((l) => l.includes('STATEMENT:'));
        const key = st ? st.slice(st.indexOf('STATEMENT:') + 10).trim().replace(/\s+/g, ' ').slice(0, 70) : '?';
        at.set(key, (at.get(key) ?? 0) + 1);
      }
      say(`    lost races by the statement that noticed: ${[...at].sort((x, y) => y[1] - x[1]).slice(0, 5).map(([k, n]) => `${n}× ${k}`).join('; ')}`);
    }
    if (!STATEMENTS) return;
    const st = await rows(
      `SELECT calls, total_exec_time AS ms, rows, query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC`,
    );
    const calls = st.reduce((x, r) => x + Number(r.calls), 0);
    const ms = st.reduce((x, r) => x + r.ms, 0);
    const control = (re) => st.filter((r) => re.test(r.query.trim())).reduce((x, r) => x + Number(r.calls), 0);
    say(`    statements: ${calls} executed (of them ${control(/^(SAVEPOINT|RELEASE|ROLLBACK TO)/i)} SAVEPOINT/RELEASE/ROLLBACK TO, ${control(/^(BEGIN|COMMIT|ROLLBACK$)/i)} BEGIN/COMMIT/ROLLBACK), ${(ms / 1000).toFixed(2)} s of execution in the server (pg_stat_statements: round trips and the clients' own time not included); the costliest:`);
    for (const r of st.slice(0, top)) say(`      ${String(r.calls).padStart(7)} calls ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${(r.ms / Math.max(1, Number(r.calls))).toFixed(2).padStart(7)} ms each  ${r.query.replace(/\s+/g, ' ').slice(0, 110)}`);
  };

  let mailsReceived = 0;
  sink = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    disableReverseLookup: true,
    onData(stream, _session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        mailsReceived++;
        callback();
      });
    },
  });
  await new Promise((res, rej) => {
    sink.server.once('error', rej);
    sink.listen(0, '127.0.0.1', res);
  });
  const smtpPort = sink.server.address().port;

  const hostIds = Array.from({ length: N }, (_, i) => hostIdOf(i));
  writeFileSync(
    join(work, 'inventory.json'),
    JSON.stringify({
      // One customer per host: a mass action must not trip recidivism reviews by accident (as fleet.mjs).
      hosts: hostIds.map((id, i) => ({ id, customerId: `cust-${i}`, publicPrefixes: [`100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`], managementAddress: `10.255.${(i >> 8) & 255}.${i & 255}` })),
      customers: hostIds.map((_, i) => ({ id: `cust-${i}`, name: `Customer ${i}`, email: `ops@cust-${i}.example` })),
    }),
  );

  // Replicas ------------------------------------------------------------------
  for (const name of NAMES) {
    const port = await freePort();
    const metricsPort = await freePort();
    const config = join(work, `${name}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        listen: `127.0.0.1:${port}`,
        tls: { ca: pki.ca, cert: pki.controller.cert, key: pki.controller.key, revokedSerialsFile: pki.revokedFile },
        inventory: { file: join(work, 'inventory.json') },
        store: { url: cluster.url, maxConnections: MAX_CONN },
        replica: { id: name },
        metrics: { listen: `127.0.0.1:${metricsPort}` },
        mail: { smtp: { host: '127.0.0.1', port: smtpPort }, from: 'abuse@provider.example', replyTo: 'abuse@provider.example' },
        log: { level: flags['log-level'] },
      }),
    );
    replicas.set(name, { name, port, metricsPort, address: `127.0.0.1:${port}`, config, log: join(work, `${name}.log`) });
  }
  const startReplica = (r) => {
    const prof = PROFILE ? ['--cpu-prof', '--cpu-prof-dir', join(PROFILE, r.name)] : [];
    r.proc = spawnChild(['--disable-warning=DEP0123', ...prof, join(DIST, 'controller/main.js'), '--config', r.config], { out: r.log });
  };
  const metrics = async (r) => {
    const res = await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`metrics ${res.status}`);
    return res.text();
  };
  t0 = now();
  // All three at once, as a deployment would start them: one migrates, the others wait on the lock; each imports the inventory.
  for (const r of replicas.values()) startReplica(r);
  for (;;) {
    for (const r of replicas.values()) if (r.proc.exitCode !== null) throw new Error(`${r.name} exited (${r.proc.exitCode}) while starting:\n${tail(r.log)}`);
    const up = await Promise.all([...replicas.values()].map((r) => metrics(r).then(() => true, () => false)));
    const joined = up.every(Boolean) ? Number((await rows('SELECT COUNT(*) AS n FROM replicas'))[0].n) : 0;
    if (joined === NAMES.length) break;
    if (now() - t0 > 120_000) throw new Error(`replicas not up within 120 s (${up})`);
    await sleep(200);
  }
  say(`replicas: ${NAMES.map((n) => `${n} pid ${replicas.get(n).proc.pid} on ${replicas.get(n).address}`).join(', ')}; all three serving and joined ${secs(now() - t0)} after starting them together (migrations, inventory of ${N} hosts imported by each)`);
  const byAddress = new Map([...replicas.values()].map((r) => [r.address, r.name]));

  // Agents --------------------------------------------------------------------
  const addresses = [...replicas.values()].map((r) => r.address);
  const ask = (w, msg, type, timeoutMs = 60_000) =>
    new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no ${type} from an agents' process within ${timeoutMs} ms`)), timeoutMs);
      const on = (m) => {
        if (m.type !== type) return;
        clearTimeout(timer);
        w.off('message', on);
        res(m);
      };
      w.on('message', on);
      w.send(msg);
    });
  /** Receipts and connects of every agent since `since`, merged. */
  const collect = async (since) => {
    const all = await Promise.all(workers.map((w) => ask(w, { type: 'collect', since }, 'receipts')));
    return { receipts: all.flatMap((r) => r.receipts), connects: all.flatMap((r) => r.connects) };
  };
  const agentTotals = () => {
    const t = { connected: 0, sessions: 0, rss: 0, cpuMs: 0, byReplica: {}, errors: {} };
    for (const w of workers) {
      const s = w.status ?? {};
      t.connected += s.connected ?? 0;
      t.sessions += s.sessions ?? 0;
      t.rss += s.rss ?? 0;
      t.cpuMs += s.cpuMs ?? 0;
      for (const [a, n] of Object.entries(s.byAddress ?? {})) t.byReplica[byAddress.get(a) ?? a] = (t.byReplica[byAddress.get(a) ?? a] ?? 0) + n;
      for (const [e, n] of Object.entries(s.errors ?? {})) t.errors[e] = (t.errors[e] ?? 0) + n;
    }
    return t;
  };
  const liveLinks = async () => Object.fromEntries((await rows('SELECT replica_id, COUNT(*) AS n FROM agent_links WHERE live = 1 GROUP BY replica_id ORDER BY replica_id')).map((r) => [r.replica_id, Number(r.n)]));
  const fmtSpread = (o) => NAMES.map((n) => `${n} ${o[n] ?? 0}`).join(', ');

  const procs = [...replicas.values()];
  const cpuMark = () => ({ at: now(), mono: mono(), replicas: procs.map((r) => procSample(r.proc.pid)), server: cluster.sample(), agents: agentTotals().cpuMs });
  const cpuSay = (m0, m1) => {
    const w = m1.at - m0.at;
    const pct = (a, b) => `${((100 * (b - a)) / w).toFixed(0)}%`;
    const one = (r, i) => `${r.name} ${m0.replicas[i] && m1.replicas[i] ? pct(m0.replicas[i].cpuMs, m1.replicas[i].cpuMs) : '(killed)'}`;
    return `${procs.map(one).join(', ')}, PostgreSQL ${pct(m0.server.cpuMs, m1.server.cpuMs)}, the agents' processes ${pct(m0.agents, m1.agents)} of one core over ${secs(w)}`;
  };
  const connectDb = await dbMark();
  const connectCpu = cpuMark();
  const connectStart = now();
  for (let from = 0; from < N; from += PER) {
    // Niced, as in fleet.mjs: on a real fleet the agents are not on the replicas' cores.
    const w = spawnChild([join(HERE, 'fleet-agents.mjs')], { nice: 10, ipc: true });
    w.on('message', (m) => {
      if (m.type === 'status') w.status = { ...m, at: now() };
    });
    w.send({ type: 'start', addresses, ca: pki.ca, key: pki.agentKey, certDir: pki.agentDir, hostIds: hostIds.slice(from, from + PER), heartbeatMs: HEARTBEAT_MS, restrictedHeartbeatMs: RESTRICTED_HEARTBEAT_MS, backoff: BACKOFF, impl: flags['agent-impl'] });
    workers.push(w);
  }
  let agentsAt;
  let linksAt;
  let lastPrint = now();
  for (;;) {
    const a = agentTotals();
    if (agentsAt === undefined && a.connected === N) agentsAt = now();
    const live = Object.values(await liveLinks()).reduce((x, y) => x + y, 0);
    if (linksAt === undefined && live === N) linksAt = now();
    if (agentsAt !== undefined && linksAt !== undefined) break;
    if (now() - connectStart > 240_000) throw new Error(`not all ${N} agents connected within 240 s: ${a.connected}; errors ${JSON.stringify(a.errors).slice(0, 400)}`);
    if (now() - lastPrint > 10_000) {
      lastPrint = now();
      say(`  ... connect: ${secs(now() - connectStart)}: agents connected ${a.connected} (${fmtSpread(a.byReplica)}), agent_links live ${live}, sessions opened ${a.sessions}; why the others' last attempt failed: ${JSON.stringify(Object.entries(a.errors).sort((x, y) => y[1] - x[1]).slice(0, 2)).slice(0, 300)}`);
    }
    await sleep(200);
  }
  let a = agentTotals();
  say(`connect: all ${N} connected in ${secs(agentsAt - connectStart)} (agents' view), all started at once; agent_links shows all ${N} live after ${secs(linksAt - connectStart)}; ${a.sessions - N} extra streams opened (timeouts, moves)`);
  say(`  spread (agents' view): ${fmtSpread(a.byReplica)}; agent_links: ${fmtSpread(await liveLinks())}`);
  const connectEnd = cpuMark();
  windows.push({ label: 'connect', from: connectCpu.mono, to: connectEnd.mono });
  say(`  CPU meanwhile: ${cpuSay(connectCpu, connectEnd)}`);
  await dbSay(connectDb, 5);

  // Idle ----------------------------------------------------------------------
  await sleep(Math.min(10_000, HEARTBEAT_MS));
  const idleDb = await dbMark();
  const idleMono = mono();
  const first = { replicas: procs.map((r) => procSample(r.proc.pid)), server: cluster.sample() };
  const rssMax = procs.map(() => 0);
  let serverPssMax = 0;
  const idleEnd = now() + IDLE_S * 1000;
  let last = first;
  while (now() < idleEnd) {
    await sleep(Math.min(1_000, Math.max(0, idleEnd - now())));
    last = { replicas: procs.map((r) => procSample(r.proc.pid)), server: cluster.sample() };
    last.replicas.forEach((s, i) => (rssMax[i] = Math.max(rssMax[i], s.rss)));
    serverPssMax = Math.max(serverPssMax, last.server.pss);
  }
  windows.push({ label: 'idle', from: idleMono, to: mono() });
  const elapsed = last.replicas[0].at - first.replicas[0].at;
  const pctOf = (ms) => `${((100 * ms) / elapsed).toFixed(1)}%`;
  a = agentTotals();
  const held = await liveLinks();
  say(`idle (${IDLE_S} s window; heartbeats every ${HEARTBEAT_MS / 1000} s from each agent; each replica says it is alive every 2 s and re-reads the fleet every 5 s):`);
  let cpuTotal = 0;
  let rssTotal = 0;
  procs.forEach((r, i) => {
    const cpu = last.replicas[i].cpuMs - first.replicas[i].cpuMs;
    cpuTotal += cpu;
    rssTotal += last.replicas[i].rss;
    say(`  ${r.name} (${held[r.name] ?? 0} agents): CPU ${pctOf(cpu)} of one core, RSS ${mib(last.replicas[i].rss)} (max ${mib(rssMax[i])})`);
  });
  say(`  total of the three: CPU ${pctOf(cpuTotal)} of one core, RSS ${mib(rssTotal)}`);
  say(`  PostgreSQL server (${last.server.processes} processes): CPU ${pctOf(last.server.cpuMs - first.server.cpuMs)} of one core, Pss ${mib(last.server.pss)} (max ${mib(serverPssMax)}; shared buffers split among its processes)`);
  say(`  agents' side (for scale): ${workers.length} processes, RSS ${mib(a.rss)} total`);
  await dbSay(idleDb, 5);

  // Push ----------------------------------------------------------------------
  const { DeskServiceClient } = await import(`${DIST}/proto/gen/cordon/v1/desk.js`);
  const { callUnary, clientChannel } = await import(`${DIST}/proto/runtime/rpcClient.js`);
  const { loadTlsMaterial } = await import(`${DIST}/proto/runtime/tls.js`);
  const desk = (name, replica) => {
    const { credentials, options } = clientChannel(loadTlsMaterial(pki.operator(name)), 'localhost');
    return new DeskServiceClient(replica.address, credentials, options);
  };
  /**
   * Calls a DeskService method, again when it fails `transient` (on PostgreSQL: a
   * serialization failure between replicas, which the server does not retry
   * itself and which rolled everything back), as an operator's client would.
   */
  let transientRetries = 0;
  const call = async (client, method, request, timeoutMs) => {
    for (let n = 1; ; n++) {
      try {
        return await callUnary(client[method].bind(client), request, { timeoutMs });
      } catch (err) {
        if (n >= 10 || err?.kind !== 'transient') throw err;
        transientRetries++;
        say(`  (${method} failed transient, retrying: ${err.message.slice(0, 140)})`);
        await sleep(50 * n);
      }
    }
  };
  const massAction = async (askOn, grantOn, hosts, action, reason, { beforeGrant, onGrantSent } = {}) => {
    const requester = desk('fleet-requester', askOn);
    const approver = desk('fleet-approver', grantOn);
    try {
      const asked = await call(requester, 'enforce', { incidentId: '', hostIds: hosts, customerId: '', reason, action: { id: '', incidentId: '', reason: '', action } }, 60_000);
      if (!asked.approvalId) throw new Error(`expected a four-eyes approval for ${hosts.length} hosts, got ${JSON.stringify(asked)}`);
      await beforeGrant?.();
      const decision = now();
      const granting = call(approver, 'approve', { approvalId: asked.approvalId }, 120_000).then(
        (granted) => ({ incidents: granted.incidentIds.length }),
        (err) => ({ error: err }),
      );
      onGrantSent?.(decision);
      const granted = await granting;
      return { decision, returned: now(), ...granted };
    } finally {
      requester.close();
      approver.close();
    }
  };
  /** "cannot record agent report" lines in each replica's log so far: reports the controller gave up on. */
  const droppedReports = () => {
    const out = {};
    for (const r of replicas.values()) {
      const lines = readFileSync(r.log, 'utf8').split('\n').filter((l) => l.includes('cannot record agent report'));
      out[r.name] = { n: lines.length, serialization: lines.filter((l) => l.includes('[40001]') || l.includes('[40P01]')).length };
    }
    return `${NAMES.map((n) => `${n} ${out[n].n}`).join(', ')} (${Object.values(out).reduce((x, o) => x + o.serialization, 0)} of them lost races: 40001/40P01)`;
  };
  /**
   * Waits until no incident is 'enforcing' (every agent's report processed),
   * at most `timeoutMs`, and not longer than 15 s without progress (a report
   * the controller gave up on leaves its incident enforcing for good).
   */
  const untilEnforced = async (timeoutMs) => {
    const t0 = now();
    let left = -1;
    let progressAt = now();
    for (;;) {
      const n = Number((await rows("SELECT COUNT(*) AS n FROM incidents WHERE state = 'enforcing'"))[0].n);
      if (n !== left) [left, progressAt] = [n, now()];
      if (left === 0) return { at: now(), left };
      if (now() - t0 > timeoutMs || now() - progressAt > 15_000) return { at: undefined, left, stalled: now() - progressAt > 15_000, lastProgress: progressAt };
      await sleep(200);
    }
  };
  const incidentStates = async () => (await rows('SELECT state, COUNT(*) AS n FROM incidents GROUP BY state ORDER BY state')).map((r) => `${r.state} ${r.n}`).join(', ');
  const outboxStates = async () => (await rows("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status ORDER BY status")).map((r) => `${r.status} ${r.n}`).join(', ');
  // A listener of our own on the replicas' channel: when each "these hosts changed" nudge went out.
  listener = new pg.Client({ connectionString: cluster.url });
  await listener.connect();
  const nudges = [];
  listener.on('notification', (n) => {
    if (n.channel !== 'cordon_hosts') return;
    const p = JSON.parse(n.payload);
    nudges.push({ at: now(), r: p.r, hosts: p.h.length });
  });
  await listener.query('LISTEN cordon_hosts');
  const generations = async (hosts) => new Map((await rows('SELECT host_id, generation FROM host_desired WHERE host_id = ANY($1)', [hosts])).map((r) => [r.host_id, Number(r.generation)]));
  const holderAt = (connects, host, t) => {
    let addr;
    for (const [h, address, at] of connects) if (h === host && at <= t) addr = address;
    return addr && byAddress.get(addr);
  };
  /** Waits until every host in `hosts` has a receipt after `since` with generation ≥ want(host); returns the first such receipt per host. */
  const untilReceived = async (hosts, since, want, timeoutMs, label) => {
    const deadline = now() + timeoutMs;
    for (;;) {
      const { receipts, connects } = await collect(since);
      const got = new Map();
      for (const [h, g, receivedAt] of receipts) if (g >= want(h) && !got.has(h)) got.set(h, receivedAt);
      if (hosts.every((h) => got.has(h))) return { got, connects };
      if (now() > deadline) throw new Error(`${label}: ${hosts.filter((h) => !got.has(h)).length} of ${hosts.length} hosts without their desired state after ${timeoutMs / 1000} s`);
      await sleep(250);
    }
  };
  const drain = async (label) => {
    const mark = await dbMark();
    const cpu = cpuMark();
    const d = await untilEnforced(DRAIN_MS);
    const end = cpuMark();
    windows.push({ label, from: cpu.mono, to: end.mono });
    say(`  ${label}: ${d.at ? `every report processed (no incident enforcing) ${secs(d.at - mark.at)} later` : `NOT drained: ${d.left} incidents still enforcing ${d.stalled ? `(no progress since ${secs(now() - d.lastProgress)})` : `after ${DRAIN_MS / 1000} s`}`}; CPU meanwhile: ${cpuSay(cpu, end)}`);
    say(`    incidents by state: ${await incidentStates()}; outbox: ${await outboxStates()}; agent reports the replicas gave up on so far ("cannot record agent report"): ${droppedReports()}`);
    await dbSay(mark);
  };

  const targets = Array.from({ length: PUSH }, (_, k) => hostIds[Math.floor((k * N) / PUSH)]);
  const decider = replicas.get(NAMES[0]);
  const { connects: connectsBefore } = await collect(0);
  const before = await generations(targets);
  let pushDb;
  let cpu0;
  const push = await massAction(decider, decider, targets, { $case: 'smtpBlock', value: { ports: [], allowedRelays: [] } }, 'replicas bench: mass SMTP block', {
    beforeGrant: async () => {
      pushDb = await dbMark();
      cpu0 = cpuMark();
    },
  });
  if (push.error) throw push.error;
  const pushed = await untilReceived(targets, push.decision, (h) => (before.get(h) ?? 0) + 1, 120_000, 'push');
  const allAt = Math.max(...pushed.got.values());
  const cpu1 = cpuMark();
  const after = await generations(targets);
  const lat = [];
  const latBy = Object.fromEntries(NAMES.map((n) => [n, []]));
  for (const h of targets) {
    const ms = pushed.got.get(h) - push.decision;
    lat.push(ms);
    latBy[holderAt(connectsBefore, h, push.decision) ?? '?']?.push(ms);
  }
  const wrong = targets.filter((h) => after.get(h) !== (before.get(h) ?? 0) + 1).length;
  const mine = nudges.filter((n) => n.r === decider.name && n.at >= push.decision);
  say(`push: smtp_block to ${PUSH} hosts, Enforce (four eyes) and Approve both on ${decider.name}; decision = the Approve call:`);
  say(`  decision -> agent has its new desired state: ${dist(lat)}${lat.length === PUSH ? '' : ` (MISSING ${PUSH - lat.length})`}`);
  for (const n of NAMES) say(`    agents held by ${n}${n === decider.name ? ' (the deciding replica: pushes itself)' : ' (relayed over NOTIFY)'}: ${dist(latBy[n])}`);
  say(`  Approve returned after ${secs(push.returned - push.decision)} (${push.incidents} incidents; one transaction for all hosts, pushes after its commit); the last agent had it ${secs(allAt - push.decision)} after the decision; ${wrong} hosts not at generation+1 in the store`);
  say(`  cordon_hosts nudges from ${decider.name} (our own LISTEN): ${mine.length} carrying ${mine.reduce((x, n) => x + n.hosts, 0)} host ids, the first ${mine.length ? secs(mine[0].at - push.decision) : '-'} and the last ${mine.length ? secs(mine.at(-1).at - push.decision) : '-'} after the decision`);
  windows.push({ label: 'push (decision to the last agent)', from: cpu0.mono, to: cpu1.mono });
  say(`  CPU from the decision to the last agent: ${cpuSay(cpu0, cpu1)}`);
  await dbSay(pushDb);
  await drain('reports of the push');

  // Kill ----------------------------------------------------------------------
  const spread = await liveLinks();
  // The replica holding the most streams other than the deciding one (whose profile --profile keeps); asked on the decider, granted on the third.
  const victim = replicas.get(NAMES.filter((n) => n !== decider.name).reduce((x, y) => ((spread[y] ?? 0) > (spread[x] ?? 0) ? y : x)));
  const asker = decider;
  const granter = replicas.get(NAMES.find((n) => n !== decider.name && n !== victim.name));
  const { connects: connectsNow } = await collect(0);
  const victims = hostIds.filter((h) => holderAt(connectsNow, h, now()) === victim.name);
  const beforeKill = await generations(hostIds);
  let killAt;
  let killMono;
  let killDb;
  const grant = await massAction(asker, granter, hostIds, { $case: 'throttle', value: { rateBps: 1_000_000n } }, 'replicas bench: mass throttle during a kill', {
    beforeGrant: async () => {
      killDb = await dbMark();
    },
    onGrantSent: () =>
      setTimeout(() => {
        killAt = now();
        killMono = mono();
        victim.proc.kill('SIGKILL');
      }, KILL_DELAY_MS),
  });
  await victim.proc.exited;
  const final = await generations(hostIds);
  const changed = hostIds.filter((h) => final.get(h) !== beforeKill.get(h)).length;
  say(`kill -9 of ${victim.name} (${victims.length} agents; spread before: ${fmtSpread(spread)}) ${KILL_DELAY_MS} ms after a mass throttle on all ${N} hosts was sent for approval to ${granter.name} (asked on ${asker.name}):`);
  say(`  the Approve ${grant.error ? `FAILED after ${secs(grant.returned - grant.decision)}: ${String(grant.error.message).slice(0, 200)}; the agents converge on the state before it` : `returned ${secs(grant.returned - grant.decision)} after it was sent (${grant.incidents} incidents)`}; ${changed} hosts' generations moved`);
  // Survivors' view: every agent live on a survivor in agent_links.
  let linksBackAt;
  const converging = untilReceived(victims, killAt, (h) => final.get(h), 120_000, 'convergence after the kill');
  const linksWatch = (async () => {
    for (let i = 0; i < 600 && linksBackAt === undefined; i++) {
      const l = await liveLinks();
      if ((l[asker.name] ?? 0) + (l[granter.name] ?? 0) === N) linksBackAt = now();
      else await sleep(200);
    }
  })();
  const conv = await converging;
  windows.push({ label: 'kill (to the last of its agents converged)', from: killMono, to: mono() });
  const everyone = changed ? await untilReceived(hostIds, grant.decision, (h) => final.get(h), 120_000, 'the throttle on every host') : undefined;
  await linksWatch;
  const reconnect = [];
  const converge = [];
  const reconnectedTo = {};
  for (const h of victims) {
    const c = conv.connects.find(([hh, , at]) => hh === h && at >= killAt);
    if (c) {
      reconnect.push(c[2] - killAt);
      const to = byAddress.get(c[1]) ?? c[1];
      reconnectedTo[to] = (reconnectedTo[to] ?? 0) + 1;
    }
    converge.push(Math.max(conv.got.get(h), c?.[2] ?? 0) - killAt);
  }
  const convergedAll = Math.max(...converge);
  say(`  kill -> the dead replica's agents connected to a survivor: ${dist(reconnect)} (to ${fmtSpread(reconnectedTo)}; each first waits a uniform draw up to reconnect.spreadMs ${BACKOFF.spreadMs} ms)`);
  say(`  kill -> the dead replica's agents hold the final desired state: ${dist(converge)}; **all ${victims.length} converged ${secs(convergedAll)} after the kill**`);
  say(`  agent_links: all ${N} live on the survivors ${linksBackAt ? secs(linksBackAt - killAt) : 'NOT within 120 s'} after the kill; now ${fmtSpread(await liveLinks())}`);
  if (everyone) {
    const others = hostIds.filter((h) => !victims.includes(h)).map((h) => everyone.got.get(h) - grant.decision);
    say(`  the other agents (held by the survivors): decision -> throttle received ${dist(others)}`);
  }
  await dbSay(killDb);
  await drain('reports after the kill');
  say(`  mail: ${mailsReceived} notices received by the SMTP sink in all`);
  ok = true;
} finally {
  await stopWorkers(workers);
  await Promise.all(
    [...replicas.values()].map(async (r) => {
      if (!r.proc || r.proc.exitCode !== null || r.proc.signalCode !== null) return;
      r.proc.kill('SIGTERM');
      if ((await Promise.race([r.proc.exited, sleep(10_000).then(() => 'timeout')])) === 'timeout') r.proc.kill('SIGKILL');
    }),
  );
  if (!ok) for (const r of replicas.values()) say(`${r.name} log tail:\n${tail(r.log)}`);
  await listener?.end().catch(() => undefined);
  await db?.end().catch(() => undefined);
  await new Promise((res) => (sink ? sink.close(res) : res()));
  await cluster?.stop();
}
if (ok && PROFILE) {
  for (const name of NAMES) {
    let file;
    try {
      file = readdirSync(join(PROFILE, name)).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(PROFILE, name, f)).at(-1);
    } catch {}
    if (!file) {
      say(`profile of ${name}: none (killed with kill -9)`);
      continue;
    }
    const p = JSON.parse(readFileSync(file, 'utf8'));
    for (const w of windows) say(profileWindow(p, w, `${name}, ${w.label}`));
  }
}
say(`reproduce: npm run build && node test/bench/replicas.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
process.exit(0);


/** Where a replica's main thread spent a phase: its CPU profile cut to [from, to] (µs, CLOCK_MONOTONIC), self time by area and by function. */
function profileWindow(p, { from, to }, title, top = 8) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const areas = new Map();
  let t = p.startTime;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    const dt = p.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) continue;
    const cf = byId.get(p.samples[i]).callFrame;
    const url = cf.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/');
    const key = `${cf.functionName || '(anonymous)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim();
    const area = !cf.url
      ? cf.functionName.startsWith('(') ? cf.functionName : 'native/builtin'
      : /node_modules\/pg/.test(cf.url) ? 'pg (node-postgres)'
        : /@grpc\/grpc-js/.test(cf.url) ? '@grpc/grpc-js'
          : /node_modules\/(nodemailer|smtp)/.test(cf.url) ? 'nodemailer'
            : /node_modules\//.test(cf.url) ? 'other node_modules'
              : /^node:/.test(cf.url) ? 'node: internals'
                : /dist\/proto\/gen/.test(cf.url) ? 'generated protobuf code'
                  : /dist\/controller\/store/.test(cf.url) ? 'cordon store'
                    : /dist\//.test(cf.url) ? 'cordon, other'
                      : 'other';
    self.set(key, (self.get(key) ?? 0) + dt);
    areas.set(area, (areas.get(area) ?? 0) + dt);
    total += dt;
  }
  const idle = areas.get('(idle)') ?? 0;
  const busy = total - (areas.get('(idle)') ?? 0);
  const fmt = (us) => `${(us / 1000).toFixed(0)} ms`;
  const lines = [`profile of ${title}: ${fmt(to - from)} of wall time, main thread busy ${fmt(busy)} (${((100 * busy) / Math.max(1, to - from)).toFixed(0)}%), idle ${fmt(idle)}`];
  lines.push(`    by area: ${[...areas].filter(([a]) => a !== '(idle)').sort((x, y) => y[1] - x[1]).map(([a, us]) => `${a} ${fmt(us)}`).join('; ')}`);
  for (const [k, us] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`      ${fmt(us).padStart(8)}  ${k}`);
  return lines.join('\n');
}
