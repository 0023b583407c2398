// What the brute-force guard (managed security, agent/guard/) costs per
// packet a host receives. Its table looks at every packet arriving on a
// public interface: is its source banned (one set lookup)? then, counting
// completed handshakes, is it a TCP packet whose flags are a bare ACK
// (data segments and the ACKs of downloads are) and its connection's second
// packet (conntrack's count, which needs nf_conntrack_acct on)? So a server
// pays it on every packet its clients send it.
//
//   npm run build && node test/bench/guard-cost.mjs [--seconds 4] [--reps 10]
//
// The worst case per packet: iperf3 TCP from the lab's internet namespace to
// its host namespace on port 443 (a guarded port, as a web server's), 64-byte
// writes with TCP_NODELAY and an MSS of 88, so the host receives small data
// segments as fast as two shared cores allow. Both ends of the veth pair send
// packets of one segment each (gso_max_segs 1), as a wire does: the table
// sees every packet. Five variants, in interleaved rounds that each start one
// variant further on (a change of the shared machine's load, or a run's place
// in its round, spreads over all), median: no table at all (the namespace
// tracks no connections); a customer's firewall only (`ct state established
// accept`: conntrack on, as on most servers); that firewall with conntrack
// accounting on (what the agent turns on, apart from its rule); that firewall
// and the guard counting SYNs (the fallback); that firewall and the guard
// counting handshakes with accounting on (what the agent runs). The measure
// is the packets the host received per second on pub0 (its own counter).
// Bounded; namespaces cbench-<pid>-* are removed at the end, on failure and
// on Ctrl-C. Root only.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderGuardTransaction } from '../../dist/agent/guard/guardRuleset.js';
import { parseCidr } from '../../dist/proto/runtime/cidr.js';
import { benchScope } from './lib/benchScope.mjs';
import { createLab, inNs } from './lib/netns.mjs';
import { machineTicks, stealPct } from './lib/steal.mjs';
import { fmt } from './lib/stats.mjs';

const { values: opt } = parseArgs({ options: { seconds: { type: 'string', default: '4' }, reps: { type: 'string', default: '10' } } });
const SECONDS = Number(opt.seconds);
const REPS = Number(opt.reps);
if (process.getuid?.() !== 0) {
  console.error('guard-cost bench: needs root (network namespaces, nft)');
  process.exit(1);
}
if (!(SECONDS >= 1 && SECONDS <= 30) || !(Number.isInteger(REPS) && REPS >= 1 && REPS <= 20)) {
  console.error('guard-cost bench: --seconds 1..30, --reps 1..20');
  process.exit(2);
}
try {
  execFileSync('iperf3', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('guard-cost bench: needs iperf3 (apt-get install -y iperf3)');
  process.exit(1);
}

const scope = benchScope('cordon-guardcost-');
const { work, children } = scope;
let lab;

/** The defaults of managedSecurity.services (README, "Brute-force protection"). */
const guardPlan = (countHandshakes) => ({
  publicInterfaces: ['pub0'],
  never: [parseCidr('10.255.0.0/16')],
  services: [
    { name: 'ssh', ports: [22], perMinute: 10, burst: 10 },
    { name: 'smtp', ports: [465, 587], perMinute: 20, burst: 20 },
    { name: 'ftp', ports: [21], perMinute: 10, burst: 10 },
    { name: 'http', ports: [80, 443], perMinute: 300, burst: 300 },
  ],
  baseBanSeconds: 600,
  maxBans: 10_000,
  bans: [],
  countHandshakes,
});
const FIREWALL = 'table inet bench_firewall {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tct state established,related accept\n\t}\n}\n';
const clear = 'flush ruleset\n';
const variants = [
  { name: 'no table (no connection tracking)', tx: clear, acct: 0 },
  { name: "a customer's firewall (ct state established)", tx: clear + FIREWALL, acct: 0 },
  { name: 'firewall, conntrack accounting on, no guard', tx: clear + FIREWALL, acct: 1 },
  { name: 'firewall + guard counting SYNs (fallback)', tx: clear + FIREWALL + renderGuardTransaction(guardPlan(false)), acct: 0 },
  { name: 'firewall + guard counting handshakes (acct on)', tx: clear + FIREWALL + renderGuardTransaction(guardPlan(true)), acct: 1 },
];
const UPLOAD = ['-l', '64', '-N', '-M', '88'];

function load(v) {
  const file = join(work, 'ruleset.nft');
  writeFileSync(file, v.tx);
  inNs(lab.host, 'nft', '-f', file);
  inNs(lab.host, 'sysctl', '-q', '-w', `net.netfilter.nf_conntrack_acct=${v.acct}`);
}

const rxPackets = () => Number(inNs(lab.host, 'cat', '/sys/class/net/pub0/statistics/rx_packets').trim());

/** One bounded TCP run; the host's received packets per second and iperf3's bits per second. */
function run() {
  const server = spawn('ip', ['netns', 'exec', lab.host, 'iperf3', '-s', '-1', '-B', lab.addr.hostPub, '-p', '443'], { stdio: 'ignore' });
  children.add(server);
  try {
    execFileSync('sleep', ['0.3']);
    const before = rxPackets();
    const ticks = machineTicks();
    const t0 = process.hrtime.bigint();
    const out = inNs(lab.internet, 'timeout', String(SECONDS + 15), 'iperf3', '-c', lab.addr.hostPub, '-p', '443', '-t', String(SECONDS), '-J', ...UPLOAD);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const end = JSON.parse(out).end;
    return { pps: (rxPackets() - before) / seconds, bps: end.sum_received.bits_per_second, steal: stealPct(ticks, machineTicks()) };
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    children.delete(server);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  lab = scope.lab = createLab('gc');
  // No segmentation offload across the veth pair: TCP would otherwise hand it 64 KB super-packets whenever
  // the sender's queue backs up, and the table would see one packet where the wire has hundreds.
  inNs(lab.host, 'ip', 'link', 'set', 'dev', 'pub0', 'gso_max_segs', '1');
  inNs(lab.internet, 'ip', 'link', 'set', 'dev', 'inet0', 'gso_max_segs', '1');
  const started = new Date();
  const loadBefore = loadavg();
  const results = variants.map(() => []);
  process.stdout.write(`measuring ${variants.length} variants × ${REPS} rounds`);
  for (let r = 0; r < REPS; r++) {
    // Each round starts one variant further on: a run's place in the round (a host warmer or more loaded
    // after the runs before it) falls on every variant alike.
    for (let k = 0; k < variants.length; k++) {
      const vi = (r + k) % variants.length;
      load(variants[vi]);
      results[vi].push(run());
      process.stdout.write('.');
    }
  }
  load(variants[0]);
  process.stdout.write('\n');
  console.log(`\nguard table cost, ${started.toISOString()}, ${cpus().length} × ${cpus()[0]?.model.trim()}, kernel ${execFileSync('uname', ['-r']).toString().trim()}, ${execFileSync('nft', ['--version']).toString().trim()}`);
  console.log(`load average at start ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`TCP upload to port 443, 64-byte writes, MSS 88, ${SECONDS} s, internet → host pub0, median of ${REPS} rounds; packets the host received per second`);
  const firewall = median(results[1].map((x) => x.pps));
  for (const [vi, v] of variants.entries()) {
    const runs = results[vi];
    const pps = median(runs.map((x) => x.pps));
    const ns = 1e9 / pps - 1e9 / firewall;
    console.log(
      `  ${v.name.padEnd(48)} ${fmt(pps / 1000).padStart(8)} kpps ${(fmt((100 * pps) / firewall, 1) + '%').padStart(7)} of the firewall alone ${(fmt(ns / 1000, 2) + ' µs').padStart(9)} a packet more   runs (kpps): ${runs.map((x) => fmt(x.pps / 1000)).join(' ')}`,
    );
  }
  const steals = results.flat().map((x) => x.steal);
  console.log(`the hypervisor took ${fmt(median(steals), 1)} % of the machine's CPU time in the median run, ${fmt(Math.max(...steals), 1)} % in the worst (steal)`);
  console.log(`reproduce: npm run build && node test/bench/guard-cost.mjs --seconds ${SECONDS} --reps ${REPS}`);
} catch (err) {
  console.error(`\nguard-cost bench failed: ${err?.stack ?? err}`);
  process.exitCode = 1;
} finally {
  scope.cleanup();
}
process.exit(process.exitCode ?? 0);
