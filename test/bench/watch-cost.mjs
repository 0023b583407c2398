// What the agent's watch table (outbound abuse detection, agent/detect/)
// costs per packet: a 64-byte UDP flood's packet rate with no watch table,
// with the table as the agent keeps it (new connections counted: SMTP and
// fan-out), and with the flood detector's sample on (one packet in 16 added
// to a per-destination set: what FloodGate turns on for 3 s when the
// interface counters show the rate). Then the whole detector over whole
// windows: a flood of --window seconds with the agent's real FloodGate
// running against one with no table, in the same rounds.
// Beside nft-set-scaling.mjs, with the same flood.
//
//   npm run build && node test/bench/watch-cost.mjs [--seconds 3] [--reps 5] [--window 60] [--window-reps 3]
//
// The flood: iperf3 UDP, 64-byte payloads, unlimited rate (-b 0), for
// --seconds, from the host namespace (pub0) to the internet namespace. The
// sender's packets per second measure the cost of the output path, nft
// included. Rounds go over every variant in turn, so a change in the shared
// machine's load spreads over all of them. Also measured: one window's work
// for the agent (list the table as JSON and empty its sets: two nft runs).
// Bounded; namespaces cbench-<pid>-* are removed at the end, on failure and
// on Ctrl-C. Root only.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderFloodSampling, renderWatchFlush, renderWatchTransaction } from '../../dist/agent/detect/watchRuleset.js';
import { FloodGate } from '../../dist/agent/detect/FloodGate.js';
import { procSentCounters } from '../../dist/agent/detect/interfaceCounters.js';
import { ExecRunner } from '../../dist/proto/runtime/CommandRunner.js';
import { silentLogger } from '../../dist/proto/runtime/logger.js';
import { parseCidr } from '../../dist/proto/runtime/cidr.js';
import { benchScope } from './lib/benchScope.mjs';
import { createLab, inNs } from './lib/netns.mjs';
import { fmt } from './lib/stats.mjs';
import { udpFlood, udpFloodAsync } from './lib/udpFlood.mjs';

const { values: opt } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, reps: { type: 'string', default: '5' }, window: { type: 'string', default: '60' }, 'window-reps': { type: 'string', default: '3' } },
});
const SECONDS = Number(opt.seconds);
const REPS = Number(opt.reps);
const WINDOW = Number(opt.window);
const WINDOW_REPS = Number(opt['window-reps']);
if (process.getuid?.() !== 0) {
  console.error('watch-cost bench: needs root (network namespaces, nft)');
  process.exit(1);
}
if (!(SECONDS >= 1 && SECONDS <= 30) || !(Number.isInteger(REPS) && REPS >= 1 && REPS <= 20) || !(WINDOW >= 10 && WINDOW <= 300) || !(Number.isInteger(WINDOW_REPS) && WINDOW_REPS >= 0 && WINDOW_REPS <= 10)) {
  console.error('watch-cost bench: --seconds 1..30, --reps 1..20, --window 10..300, --window-reps 0..10');
  process.exit(2);
}

const scope = benchScope('cordon-watchcost-');
const { work, children } = scope;
let lab;

const plan = (flood) => ({
  publicInterfaces: ['pub0'],
  managementNetworks: [parseCidr('10.255.0.0/16')],
  smtpPorts: [25, 465, 587],
  fanoutPorts: [22, 23, 445, 1433, 3306, 3389, 5900],
  flood,
});

function load(transaction) {
  const file = join(work, 'watch.nft');
  writeFileSync(file, transaction);
  inNs(lab.host, 'nft', '-f', file);
}

/** One bounded UDP flood; the sender's packets per second. */
const flood = () => udpFlood(lab, children, SECONDS).pps;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Milliseconds for one window's work: list the table as JSON, then flush its sets (as the watcher does). */
function windowWork() {
  const t0 = process.hrtime.bigint();
  inNs(lab.host, 'nft', '-j', 'list', 'table', 'inet', 'cordon_watch');
  const file = join(work, 'flush.nft');
  writeFileSync(file, renderWatchFlush());
  inNs(lab.host, 'nft', '-f', file);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

try {
  execFileSync('iperf3', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('watch-cost bench: needs iperf3 (apt-get install -y iperf3)');
  process.exit(1);
}
try {
  lab = scope.lab = createLab('wc');
  const started = new Date();
  const loadBefore = loadavg();
  const variants = [
    { name: 'no watch table', tx: renderWatchTransaction(undefined), runs: [] },
    { name: 'watch table as kept (flood sample off)', tx: renderWatchTransaction(plan(true)), runs: [] },
    { name: 'watch: flood sample on (3 s a window)', tx: renderWatchTransaction(plan(true)) + renderFloodSampling(plan(true), true), runs: [] },
  ];
  process.stdout.write(`measuring ${variants.length} variants × ${REPS} rounds`);
  for (let r = 0; r < REPS; r++) {
    for (const v of variants) {
      load(v.tx);
      v.runs.push(flood());
      process.stdout.write('.');
    }
  }
  // One window's work with the flood set full of one flood's destination (and a list of 1,000 more).
  load(renderWatchTransaction(plan(true)));
  flood();
  const works = Array.from({ length: 10 }, () => windowWork());
  load(renderWatchTransaction(undefined));
  // The whole detector over whole windows: the agent's FloodGate (from dist/) reads pub0's counters through a
  // process in the host namespace and runs nft there, while a flood of one window runs without blocking it.
  const resident = spawn('ip', ['netns', 'exec', lab.host, 'sleep', String(WINDOW * WINDOW_REPS * 3 + 120)], { stdio: 'ignore' });
  children.add(resident);
  const whole = { none: [], gated: [], samples: [] };
  for (let r = 0; r < WINDOW_REPS; r++) {
    load(renderWatchTransaction(undefined));
    whole.none.push((await udpFloodAsync(lab, children, WINDOW)).pps);
    process.stdout.write('.');
    load(renderWatchTransaction(plan(true)));
    const policy = { enabled: true, windowSeconds: WINDOW, smtpPorts: [25, 465, 587], smtpNewConnections: 100, fanoutPorts: [22], fanoutDestinations: 50, floodPacketsPerSecond: 20_000, floodMaxAverageBytes: 512 };
    const found = [];
    const gate = new FloodGate(
      { runner: new ExecRunner(lab.host), log: silentLogger(), clock: () => new Date(), readSent: procSentCounters(['pub0'], `/proc/${resident.pid}/net/dev`), managementNetworks: plan(true).managementNetworks, send: async (o) => void found.push(o) },
      plan(true),
      policy,
    );
    gate.start();
    whole.gated.push((await udpFloodAsync(lab, children, WINDOW)).pps);
    await gate.stop();
    whole.samples.push(found.length);
    process.stdout.write('.');
  }
  load(renderWatchTransaction(undefined));
  process.stdout.write('\n');
  const base = median(variants[0].runs);
  console.log(`\nwatch table cost, ${started.toISOString()}, ${cpus().length} × ${cpus()[0]?.model.trim()}, kernel ${execFileSync('uname', ['-r']).toString().trim()}, ${execFileSync('nft', ['--version']).toString().trim()}`);
  console.log(`load average at start ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`flood: iperf3 UDP 64 B, -b 0, ${SECONDS} s, host pub0 → internet, median of ${REPS} rounds; sender packets/s`);
  for (const v of variants) {
    const pps = median(v.runs);
    console.log(`  ${v.name.padEnd(42)} ${fmt(pps / 1000).padStart(8)} kpps ${(fmt((100 * pps) / base, 1) + '%').padStart(8)} of none   runs: ${v.runs.map((x) => fmt(x / 1000)).join(' ')}`);
  }
  if (WINDOW_REPS > 0) {
    const none = median(whole.none);
    const gated = median(whole.gated);
    console.log(`the whole flood detector over ${WINDOW} s floods (one detection window of ${WINDOW} s, threshold 20,000 packets/s), median of ${WINDOW_REPS} rounds:`);
    console.log(`  no watch table ${fmt(none / 1000).padStart(8)} kpps   runs: ${whole.none.map((x) => fmt(x / 1000)).join(' ')}`);
    console.log(`  the agent's table and FloodGate ${fmt(gated / 1000).padStart(8)} kpps ${(fmt((100 * gated) / none, 1) + '%').padStart(8)} of none   runs: ${whole.gated.map((x) => fmt(x / 1000)).join(' ')}; flood observations per round: ${whole.samples.join(' ')}`);
  }
  console.log(`one window's work (nft -j list table + nft -f flush), 10 runs: median ${fmt(median(works))} ms, max ${fmt(Math.max(...works))} ms; at the default 60 s window that is ${fmt((100 * median(works)) / 60_000, 3)} % of a core`);
  console.log(`reproduce: npm run build && node test/bench/watch-cost.mjs --seconds ${SECONDS} --reps ${REPS} --window ${WINDOW} --window-reps ${WINDOW_REPS}`);
} catch (err) {
  console.error(`\nwatch-cost bench failed: ${err?.stack ?? err}`);
  process.exitCode = 1;
} finally {
  scope.cleanup();
}
process.exit(process.exitCode ?? 0);
