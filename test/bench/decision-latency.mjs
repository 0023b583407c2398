// Decision to enforcement, measured with real namespaces, a real controller
// (dist/controller/main.js with a SQLite store), a real agent daemon
// (dist/agent/main.js, nftables) and the operator's DeskService.Enforce call.
//
//   npm run build && node test/bench/decision-latency.mjs [--cycles 200] [--poll-cycles 20] [--poll-seconds 10]
//        [--action isolate] [--probe-ms 1] [--cpu-prof DIR] [--keep DIR]
//
// A probe in the host namespace sends a UDP datagram to the internet
// namespace every --probe-ms, stamped with CLOCK_MONOTONIC; a receiver there
// records which arrive. One cycle: the operator enforces ISOLATE on the host
// (t0 = just before the Enforce request leaves, on the same clock; a cut
// without a complaint needs a second operator, so t0 is when the second
// operator's Approve leaves); the
// enforcement took effect with the first datagram that never arrived; latency
// = its send time − t0. Then the customer confirms the fix and the operator
// releases (same measurement, the first datagram that arrives again). Each
// cycle is a new incident, enforced → closed.
// Two agents, one after the other, on the same controller: push (the default
// held stream) for --cycles, then poll mode (controller.pollSeconds =
// --poll-seconds, CrowdSec's bouncer default of 10 s) for --poll-cycles, with
// decisions at a random phase of the poll interval.
// Root only. Creates namespaces cbench-<pid>-*, a temporary folder, four
// processes per agent phase; removes them all on exit, failure or Ctrl-C.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchBmc } from './lib/benchBmc.mjs';
import { deskLines } from './lib/deskLines.mjs';
import { createLab } from './lib/netns.mjs';
import { fmt, summary } from './lib/stats.mjs';
import { benchScope } from './lib/benchScope.mjs';
import { sleep, stopChild, until as untilEvery } from './lib/processes.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LIB = join(ROOT, 'test/bench/lib');
const { values: opt } = parseArgs({
  options: {
    cycles: { type: 'string', default: '200' },
    'poll-cycles': { type: 'string', default: '20' },
    'poll-seconds': { type: 'string', default: '10' },
    action: { type: 'string', default: 'isolate' },
    'probe-ms': { type: 'string', default: '1' },
    'cpu-prof': { type: 'string' },
    keep: { type: 'string' },
  },
});
const CYCLES = Number(opt.cycles);
const POLL_CYCLES = Number(opt['poll-cycles']);
const POLL_S = Number(opt['poll-seconds']);
const PROBE_MS = Number(opt['probe-ms']);
if (process.getuid?.() !== 0) {
  console.error('decision-latency bench: needs root (network namespaces, nft)');
  process.exit(1);
}
if (opt.action !== 'isolate') {
  console.error('decision-latency bench: only --action isolate is measured (UDP probe); smtp_block would need a TCP probe');
  process.exit(2);
}
for (const [k, v] of [['cycles', CYCLES], ['poll-cycles', POLL_CYCLES], ['poll-seconds', POLL_S], ['probe-ms', PROBE_MS]]) {
  if (!Number.isInteger(v) || v < 0 || v > 100_000) throw new Error(`--${k}: a whole number, please`);
}

const HOST_ID = 'bench-01';
const PORT = 9999;
const scope = benchScope('cordon-decision-', {
  beforeRemove(work) {
    if (!opt.keep) return;
    mkdirSync(opt.keep, { recursive: true });
    for (const f of ['controller.log', 'agent-push.log', 'agent-poll.log']) {
      try {
        cpSync(join(work, f), join(opt.keep, f));
      } catch {}
    }
  },
});
const { work, children, logFlushers } = scope;
let lab;

// Polled every 2 ms by default: the drop and the release are timed by these waits.
const until = (what, check, timeoutMs, everyMs = 2) => untilEvery(what, check, timeoutMs, everyMs);

/** Starts a process inside a namespace; logs to a file or hands stdout to the caller. */
function startIn(ns, args, { log, nodeArgs = [], stdio, raw = false } = {}) {
  // raw: args is a whole command line, not a Node script's.
  const child = spawn('ip', ['netns', 'exec', ns, ...(raw ? [] : [process.execPath, ...nodeArgs]), ...args], {
    stdio: stdio ?? ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  if (log) {
    const chunks = [];
    child.stdout.on('data', (d) => chunks.push(d));
    child.stderr.on('data', (d) => chunks.push(d));
    child.flushLog = () => {
      try {
        writeFileSync(log, Buffer.concat(chunks));
      } catch {}
    };
    child.on('exit', child.flushLog);
    logFlushers.push(child.flushLog);
  }
  return child;
}

const cpuProf = opt['cpu-prof'] ? resolve(opt['cpu-prof']) : undefined;
const profArgs = (name) => (cpuProf ? ['--cpu-prof', '--cpu-prof-dir', cpuProf, '--cpu-prof-name', `${name}.cpuprofile`] : []);
const mono = () => Number(process.hrtime.bigint()) / 1e6; // ms, CLOCK_MONOTONIC, comparable across processes
// Pino stamps log lines with the wall clock; this maps them onto the monotonic one.
const wallMinusMono = Date.now() - mono();

async function main() {
  const started = new Date();
  const loadBefore = loadavg();
  lab = scope.lab = createLab('dl');
  const pki = join(work, 'pki');
  const script = join(ROOT, 'deploy/pki/cordon-pki');
  const pkiRun = (...a) => execFileSync(script, ['--dir', pki, ...a], { stdio: 'ignore' });
  pkiRun('init');
  pkiRun('issue-controller', 'ctl.mgmt', lab.addr.mgmt);
  pkiRun('issue-agent', HOST_ID);
  pkiRun('issue-operator', 'olga', 'abuse_operator');
  pkiRun('issue-operator', 'ada', 'abuse_operator');
  // The host's BMC: a cut waits for a good BMC check, as in production.
  const bmc = benchBmc(work, { hostId: HOST_ID, mgmtNs: lab.mgmt });
  startIn(lab.mgmt, bmc.command, { log: join(work, 'bmc.log'), raw: true });
  if (cpuProf) mkdirSync(cpuProf, { recursive: true });

  // ---- controller, in the management namespace --------------------------------
  writeFileSync(
    join(work, 'inventory.json'),
    JSON.stringify({
      hosts: [{ id: HOST_ID, customerId: 'bench', publicPrefixes: [`${lab.addr.hostPub}/32`], managementAddress: lab.addr.hostMgmt, bmc: bmc.inventory }],
      customers: [{ id: 'bench', name: 'Bench Ltd', email: 'ops@bench.example' }],
    }),
  );
  writeFileSync(
    join(work, 'controller.json'),
    JSON.stringify({
      listen: `${lab.addr.mgmt}:7443`,
      tls: { ca: join(pki, 'ca.crt'), cert: join(pki, 'controller.crt'), key: join(pki, 'controller.key'), revokedSerialsFile: join(pki, 'revoked-serials') },
      inventory: { file: join(work, 'inventory.json') },
      store: { path: join(work, 'cordon.db') },
      bmc: bmc.controllerConfig,
      // Nothing listens on the mgmt namespace's loopback: customer mail fails fast and waits in the outbox.
      mail: { smtp: { host: '127.0.0.1', port: 2525 }, maxAttempts: 1 },
      log: { level: 'info' },
    }),
  );
  const controller = startIn(lab.mgmt, ['dist/controller/main.js', '--config', join(work, 'controller.json')], {
    log: join(work, 'controller.log'),
    nodeArgs: profArgs('controller'),
  });
  let controllerDone = false;
  controller.on('exit', (code, signal) => {
    if (controllerDone) return;
    console.error(`\ndecision-latency bench: the controller exited (${code ?? signal}) in the middle of the run`);
    process.exit(1);
  });

  // ---- operator, probe receiver and sender ------------------------------------
  const operator = startIn(lab.mgmt, [join(LIB, 'operator.mjs'), `${lab.addr.mgmt}:7443`, 'ctl.mgmt', pki, 'olga', 'ada'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const desk = deskLines(operator);
  await until('the controller to answer health checks', () => desk('health').then((r) => r.status === 'SERVING' || r.status === '1', () => false), 20_000, 200);

  const maxSeconds = String(3600);
  const recv = startIn(lab.internet, [join(LIB, 'probe.mjs'), 'recv', lab.addr.inet, String(PORT), maxSeconds], { stdio: ['pipe', 'pipe', 'pipe'] });
  await new Promise((res, rej) => {
    recv.stderr.once('data', res);
    recv.once('exit', (c) => rej(new Error(`probe receiver exited with ${c}`)));
  });
  const send = startIn(lab.host, [join(LIB, 'probe.mjs'), 'send', lab.addr.inet, String(PORT), String(PROBE_MS), maxSeconds], { stdio: ['pipe', 'pipe', 'inherit'] });
  let probesDone = false;
  for (const [name, child] of [['sender', send], ['receiver', recv]]) {
    child.on('exit', (code, signal) => {
      if (!probesDone) {
        console.error(`\ndecision-latency bench: the probe ${name} exited (${code ?? signal}) before the end`);
        process.exit(1);
      }
    });
  }

  // Send times (ms, monotonic) by seq, and which seqs arrived.
  let sentAt = new Float64Array(1 << 20);
  let arrived = new Uint8Array(1 << 20);
  let lastSent = -1;
  let lastArrived = -1;
  const grow = (seq) => {
    while (seq >= sentAt.length) {
      const s = new Float64Array(sentAt.length * 2);
      s.set(sentAt);
      sentAt = s;
      const a = new Uint8Array(arrived.length * 2);
      a.set(arrived);
      arrived = a;
    }
  };
  let sendRest = Buffer.alloc(0);
  send.stdout.on('data', (d) => {
    const b = Buffer.concat([sendRest, d]);
    let o = 0;
    for (; o + 12 <= b.length; o += 12) {
      const seq = b.readUInt32LE(o);
      grow(seq);
      sentAt[seq] = Number(b.readBigUInt64LE(o + 4)) / 1e6;
      lastSent = seq;
    }
    sendRest = b.subarray(o);
  });
  let recvRest = Buffer.alloc(0);
  recv.stdout.on('data', (d) => {
    const b = Buffer.concat([recvRest, d]);
    let o = 0;
    for (; o + 4 <= b.length; o += 4) {
      const seq = b.readUInt32LE(o);
      grow(seq);
      arrived[seq] = 1;
      if (seq > lastArrived) lastArrived = seq;
    }
    recvRest = b.subarray(o);
  });
  /** The probe flows: something sent in the last 30 ms arrived. */
  const flowing = () => lastArrived >= 0 && sentAt[lastArrived] > mono() - 30;
  await until('the probe to flow', flowing, 5_000);

  const results = {};
  let agent;
  for (const mode of ['push', 'poll']) {
    const cycles = mode === 'push' ? CYCLES : POLL_CYCLES;
    if (cycles === 0) continue;
    const pollSeconds = mode === 'push' ? 0 : POLL_S;
    writeFileSync(
      join(work, `agent-${mode}.json`),
      JSON.stringify({
        hostId: HOST_ID,
        controller: { address: `${lab.addr.mgmt}:7443`, serverName: 'ctl.mgmt', pollSeconds },
        tls: { ca: join(pki, 'ca.crt'), cert: join(pki, `agent-${HOST_ID}.crt`), key: join(pki, `agent-${HOST_ID}.key`) },
        heartbeatSeconds: 10,
        interfaces: { public: ['pub0'], management: ['mgmt0'] },
        managementNetworks: [lab.addr.mgmtNet],
        stateDir: join(work, 'agent-state'),
        log: { level: 'info' },
      }),
    );
    agent = startIn(lab.host, ['dist/agent/main.js', '--config', join(work, `agent-${mode}.json`)], { log: join(work, `agent-${mode}.log`), nodeArgs: profArgs(`agent-${mode}`) });
    let agentDone = false;
    agent.on('exit', (code, signal) => {
      if (agentDone) return;
      // Not us: on a shared machine something else may signal it. Say so rather than time out.
      console.error(`\ndecision-latency bench: the ${mode} agent exited (${code ?? signal}) in the middle of the run`);
      process.exit(1);
    });
    await until(`the ${mode} agent to say hello`, () => desk('agents').then((r) => r.agents.some((a) => a.hostId === HOST_ID && a.state !== 0 && a.state !== 'AGENT_STATE_UNSPECIFIED')), 20_000, 100);

    const stepTimeout = mode === 'push' ? 10_000 : (3 * POLL_S + 10) * 1000;
    const samples = [];
    const t0Run = mono();
    process.stdout.write(`${mode}: ${cycles} cycles `);
    for (let c = 0; c < cycles; c++) {
      // A random phase: relative to the poll interval (poll), to heartbeats and the drift check (both).
      await sleep(mode === 'poll' ? Math.random() * POLL_S * 1000 : 20 + Math.random() * 80);
      await until('the probe to flow before the decision', flowing, stepTimeout);
      const enf = await desk('enforce', { hostId: HOST_ID, action: opt.action });
      const t0 = Number(BigInt(enf.t0)) / 1e6;
      const t1 = Number(BigInt(enf.t1)) / 1e6;
      // Dropped: nothing sent in the last 50 ms (and after the decision) arrived.
      await until('the probe to be dropped', () => lastSent > lastArrived && sentAt[lastSent] - Math.max(sentAt[lastArrived], t0) > 50, stepTimeout);
      await until('the incident to be enforced', () => desk('incident', { incidentId: enf.incidentId }).then((r) => r.state === 'enforced'), stepTimeout, mode === 'push' ? 20 : 200);
      const rel = await desk('release', { incidentId: enf.incidentId });
      const r0 = Number(BigInt(rel.t0)) / 1e6;
      await until('the probe to flow again', () => lastArrived >= 0 && sentAt[lastArrived] > r0, stepTimeout);
      await until('the incident to close', () => desk('incident', { incidentId: enf.incidentId }).then((r) => r.state === 'closed'), stepTimeout, mode === 'push' ? 20 : 200);

      // Every datagram delivered before the release has been reported (one pipe, in order). The
      // receiver's pipe may run a few ms ahead of the sender's: only seqs whose send time is known count.
      const known = Math.min(lastArrived, lastSent);
      let lastBefore = -1;
      for (let s = known; s >= 0; s--) if (arrived[s] && sentAt[s] < r0) { lastBefore = s; break; }
      const firstDropped = lastBefore + 1;
      let firstAgain = -1;
      for (let s = firstDropped; s <= known; s++) if (arrived[s]) { firstAgain = s; break; }
      const sample = {
        cycle: c,
        incident: enf.incidentId,
        rpcMs: t1 - t0,
        enforceMs: sentAt[firstDropped] - t0,
        releaseMs: sentAt[firstAgain] - r0,
        t0,
        t1,
        dropAt: sentAt[firstDropped],
        r0,
      };
      if (sample.enforceMs < 0) throw new Error(`cycle ${c}: the probe stopped ${-sample.enforceMs} ms before the decision (loss, not enforcement?)`);
      samples.push(sample);
      if (c % 10 === 9) process.stdout.write('.');
    }
    process.stdout.write(` ${((mono() - t0Run) / 1000).toFixed(0)} s\n`);
    results[mode] = samples;
    agentDone = true;
    await stopChild(agent);
    agent.flushLog?.();
  }

  // ---- where the time goes (push): the agent's and the controller's log lines --
  await sleep(200); // the last report's log line
  controller.flushLog();
  const breakdown = pathBreakdown(results.push ?? [], join(work, 'agent-push.log'), join(work, 'controller.log'));

  // Unexplained loss: datagrams that vanished outside any enforced window.
  let lost = 0;
  let counted = 0;
  const windows = Object.values(results).flat().map((s) => [s.t0, s.r0 + s.releaseMs]);
  for (let s = 0; s < lastArrived; s++) {
    if (windows.some(([a, b]) => sentAt[s] >= a && sentAt[s] <= b)) continue;
    counted++;
    if (!arrived[s]) lost++;
  }

  probesDone = true;
  await stopChild(send, 1_000);
  await stopChild(recv, 1_000);
  operator.stdin.end();
  controllerDone = true;
  // A clean stop can take the controller's own 5 s grace and more (a BMC check in flight); a killed one writes no --cpu-prof.
  await stopChild(controller, cpuProf ? 60_000 : 5_000);
  controller.flushLog?.();

  report({ started, results, breakdown, lost, counted, load: [loadBefore, loadavg()] });
}

/** Matches each push cycle to the agent's "desired state applied" and the controller's "agent report" lines. */
function pathBreakdown(samples, agentLog, controllerLog) {
  const lines = (f) => {
    try {
      return readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    } catch {
      return [];
    }
  };
  const at = (l) => (typeof l.time === 'number' ? l.time : Date.parse(l.time)) - wallMinusMono;
  const applied = lines(agentLog).filter((l) => l.msg === 'desired state applied').map(at);
  const reports = lines(controllerLog).filter((l) => l.msg === 'agent report').map(at);
  const firstAfter = (list, t) => list.find((x) => x >= t);
  const rows = [];
  for (const s of samples) {
    const a = firstAfter(applied, s.t0);
    const r = a === undefined ? undefined : firstAfter(reports, a - 1);
    if (a === undefined || r === undefined) continue;
    rows.push({ rpc: s.rpcMs, toDrop: s.dropAt - s.t1, dropToApplied: a - s.dropAt, appliedToReport: r - a, decisionToReport: r - s.t0 });
  }
  return rows;
}

function report({ started, results, breakdown, lost, counted, load }) {
  const cmd = `node test/bench/decision-latency.mjs --cycles ${CYCLES} --poll-cycles ${POLL_CYCLES} --poll-seconds ${POLL_S} --probe-ms ${PROBE_MS}`;
  const mem = `${(totalmem() / 2 ** 30).toFixed(1)} GiB`;
  console.log(`\ndecision → enforcement (ISOLATE, one host), ${started.toISOString()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${mem}, node ${process.version}, ${execFileSync('nft', ['--version']).toString().trim()}`);
  console.log(`load average (1/5/15 min) at start ${load[0].map((x) => x.toFixed(2)).join(' ')}, at end ${load[1].map((x) => x.toFixed(2)).join(' ')}: the machine is shared, figures are noisy`);
  console.log(`probe: UDP every ${PROBE_MS} ms host → internet; latency = send time of the first datagram dropped − the moment the Enforce request left (CLOCK_MONOTONIC)`);
  const row = (name, xs) => {
    const s = summary(xs);
    return `  ${name.padEnd(34)} n=${String(s.n).padEnd(4)} p50 ${fmt(s.p50).padStart(8)}  p90 ${fmt(s.p90).padStart(8)}  p99 ${fmt(s.p99).padStart(8)}  max ${fmt(s.max).padStart(8)}  mean ${fmt(s.mean).padStart(8)} ms`;
  };
  for (const [mode, samples] of Object.entries(results)) {
    console.log(`${mode === 'push' ? 'push (held stream)' : `poll every ${POLL_S} s`}:`);
    console.log(row('decision → probe dropped', samples.map((s) => s.enforceMs)));
    console.log(row('release decision → probe passes', samples.map((s) => s.releaseMs)));
    console.log(row('Enforce RPC (commit, answer)', samples.map((s) => s.rpcMs)));
    // Whether the tail is the first cycle (a cold agent: its first nft session, code not yet compiled) or spread over the run.
    const worst = [...samples].sort((a, b) => b.enforceMs - a.enforceMs).slice(0, 3);
    console.log(`  slowest cycles (decision → dropped): ${worst.map((w) => `#${w.cycle} ${fmt(w.enforceMs)} ms`).join(', ')}`);
  }
  if (results.push && results.poll) {
    const p = summary(results.push.map((s) => s.enforceMs));
    const q = summary(results.poll.map((s) => s.enforceMs));
    console.log(`poll / push: p50 ×${fmt(q.p50 / p.p50, 0)}, p99 ×${fmt(q.p99 / p.p99, 0)}, mean ×${fmt(q.mean / p.mean, 0)}`);
  }
  if (breakdown.length) {
    console.log(`where the time goes, push (${breakdown.length} cycles matched to log lines; pino stamps are whole ms):`);
    console.log(row('Enforce RPC: decision → committed', breakdown.map((b) => b.rpc)));
    console.log(row('answer → probe dropped (push+nft)', breakdown.map((b) => b.toDrop)));
    console.log(row('dropped → agent "applied" (verify)', breakdown.map((b) => b.dropToApplied)));
    console.log(row('applied → controller has report', breakdown.map((b) => b.appliedToReport)));
    console.log(row('decision → controller has report', breakdown.map((b) => b.decisionToReport)));
  }
  console.log(`probe loss outside enforced windows: ${lost} of ${counted} datagrams`);
  console.log(`reproduce: npm run build && ${cmd}`);
  const push = results.push && summary(results.push.map((s) => s.enforceMs));
  if (push) console.log(`target p99 ≤ 100 ms (push, one host): ${push.p99 <= 100 ? 'met' : 'MISSED'} (p99 ${fmt(push.p99)} ms)`);
}

try {
  await main();
} catch (err) {
  console.error(`\ndecision-latency bench failed: ${err?.stack ?? err}`);
  process.exitCode = 1;
} finally {
  scope.cleanup();
}
process.exit(process.exitCode ?? 0);
