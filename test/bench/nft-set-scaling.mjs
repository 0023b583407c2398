// Per-packet cost of the agent's nftables ruleset as its allow-list grows: the
// management networks (always reachable, checked first for every packet that
// leaves a public interface) with 10 … 10,000 entries, held in a set as the
// agent renders it (agent/backends/nftRuleset.ts, an interval set), in a hash
// set (exact addresses, no interval flag), and, as the counter-example, the
// same allow-list as a linear chain of one rule per entry.
//
//   npm run build && node test/bench/nft-set-scaling.mjs [--sizes 10,100,1000,10000] [--seconds 3] [--reps 3]
//
// The flood: iperf3 UDP, 64-byte payloads, unlimited rate (-b 0), for --seconds,
// from the host namespace (pub0) to the internet namespace, to an address in
// none of the allowed networks (the worst case for a chain: every rule is
// tried). The sender's packets per second measure the cost of the output path,
// nft included; the table is the agent's SMTP-block table (every packet goes
// through `oifname @public_ifs jump egress` and the allow-list lookup, then
// passes). Bounded: each flood lasts --seconds; namespaces cbench-<pid>-* are
// removed at the end, on failure and on Ctrl-C. Root only.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderTable } from '../../dist/agent/backends/nftRuleset.js';
import { parseCidr } from '../../dist/proto/runtime/cidr.js';
import { createLab, inNs } from './lib/netns.mjs';
import { fmt } from './lib/stats.mjs';
import { udpFlood } from './lib/udpFlood.mjs';
import { benchScope } from './lib/benchScope.mjs';

const { values: opt } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,100,1000,10000' },
    seconds: { type: 'string', default: '3' },
    reps: { type: 'string', default: '3' },
  },
});
const SIZES = opt.sizes.split(',').map(Number);
const SECONDS = Number(opt.seconds);
const REPS = Number(opt.reps);
if (process.getuid?.() !== 0) {
  console.error('nft-set-scaling bench: needs root (network namespaces, nft)');
  process.exit(1);
}
if (SIZES.some((n) => !Number.isInteger(n) || n < 1 || n > 65_000) || !(SECONDS >= 1 && SECONDS <= 30) || !(REPS >= 1 && REPS <= 20)) {
  console.error('nft-set-scaling bench: --sizes 1..65000 each, --seconds 1..30, --reps 1..20');
  process.exit(2);
}

const scope = benchScope('cordon-nftscale-');
const { work, children } = scope;
let lab;

/** N distinct, non-adjacent /32s in 10.0.0.0/8 (adjacent ones would be merged into fewer entries). */
const allowList = (n) => Array.from({ length: n }, (_, i) => `10.${(i >> 7) & 255}.${(i & 127) * 2}.${1 + ((i >> 15) & 1) * 2}/32`);

/** The agent's own table: an SMTP block, the allow-list as the management networks. */
function setTable(n) {
  return renderTable({
    publicInterfaces: ['pub0'],
    managementNetworks: allowList(n).map(parseCidr),
    smtp: { ports: [25, 465, 587], allowedRelays: [] },
    isolate: false,
    throttleBps: undefined,
    linksDown: [],
  });
}

const MGMT_SET = /\tset mgmt_v4 \{\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = \{ [^}]* \}\n\t\}\n/;
const MGMT_RULE = '\t\tip daddr @mgmt_v4 accept\n';

/** The same table, the allow-list a hash set of addresses (no interval flag). */
function hashTable(n) {
  const t = setTable(n);
  const addrs = allowList(n).map((c) => c.replace('/32', ''));
  const out = t.replace(MGMT_SET, `\tset mgmt_v4 {\n\t\ttype ipv4_addr\n\t\telements = { ${addrs.join(', ')} }\n\t}\n`);
  if (out === t) throw new Error('the agent ruleset changed shape: mgmt_v4 set not found');
  return out;
}

/** The counter-example: the same table, the allow-list a chain of one rule per entry. */
function chainTable(n) {
  const t = setTable(n);
  const rules = allowList(n).map((c) => `\t\tip daddr ${c.replace('/32', '')} accept\n`).join('');
  const out = t.replace(MGMT_SET, '\tset mgmt_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}\n').replace(MGMT_RULE, rules);
  if (out === t || !out.includes(rules)) throw new Error('the agent ruleset changed shape: mgmt_v4 rule not found');
  return out;
}

function load(table) {
  const file = join(work, 'ruleset.nft');
  writeFileSync(file, `table inet cordon\ndelete table inet cordon\n${table ?? ''}`);
  inNs(lab.host, 'nft', '-f', file);
}

/** One bounded UDP flood; returns the sender's packets per second. */
const flood = () => udpFlood(lab, children, SECONDS);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Counts the rules in the egress chain, to show what each variant really loaded. */
function egressRules() {
  return inNs(lab.host, 'nft', '-a', 'list', 'chain', 'inet', 'cordon', 'egress').split('\n').filter((l) => /# handle/.test(l)).length;
}

try {
  lab = scope.lab = createLab('ns');
  const started = new Date();
  const loadBefore = loadavg();
  const configs = [{ name: 'no cordon table', n: 0, table: undefined }];
  for (const n of SIZES) {
    for (const [name, fn] of [['set (agent, interval)', setTable], ['hash set', hashTable], ['linear chain', chainTable]]) configs.push({ name, n, table: fn(n) });
  }
  // Rounds over every variant rather than all runs of one variant in a row: a
  // change in the machine's load (it is shared) then spreads over all of them
  // instead of posing as a trend with the size.
  for (const c of configs) c.runs = [];
  process.stdout.write(`measuring ${configs.length} variants × ${REPS} rounds`);
  for (let r = 0; r < REPS; r++) {
    for (const c of configs) {
      load(c.table);
      c.rules = c.table ? egressRules() : 0;
      c.runs.push(flood().pps);
      process.stdout.write('.');
    }
  }
  const results = configs.map((c) => ({ ...c, pps: median(c.runs), nsPerPacket: 1e9 / median(c.runs) }));
  load(undefined);
  process.stdout.write('\n');
  const loadAfter = loadavg();

  console.log(`\nnft allow-list scaling, ${started.toISOString()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${execFileSync('uname', ['-r']).toString().trim()}, ${execFileSync('nft', ['--version']).toString().trim()}`);
  console.log(`load average (1/5/15 min) at start ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, at end ${loadAfter.map((x) => x.toFixed(2)).join(' ')}: the machine is shared, figures are noisy`);
  console.log(`flood: iperf3 UDP 64 B, -b 0, ${SECONDS} s, host pub0 → internet, median of ${REPS} rounds; sender packets/s (higher is better) and wall time per packet`);
  const base = results[0];
  console.log(`  ${'variant'.padEnd(24)} ${'entries'.padStart(7)} ${'egress rules'.padStart(12)} ${'kpps'.padStart(8)} ${'ns/pkt'.padStart(8)} ${'vs none'.padStart(8)}   runs (kpps)`);
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(24)} ${String(r.n).padStart(7)} ${String(r.rules).padStart(12)} ${fmt(r.pps / 1000).padStart(8)} ${fmt(r.nsPerPacket, 0).padStart(8)} ${(fmt((100 * r.pps) / base.pps, 0) + '%').padStart(8)}   ${r.runs.map((x) => fmt(x / 1000)).join(' ')}`,
    );
  }
  for (const name of ['set (agent, interval)', 'hash set', 'linear chain']) {
    const rows = results.filter((r) => r.name === name);
    const first = rows[0];
    const last = rows.at(-1);
    console.log(`${name}: ${first.n} → ${last.n} entries: ${fmt(first.pps / 1000)} → ${fmt(last.pps / 1000)} kpps (${fmt((100 * last.pps) / first.pps, 0)}%), +${fmt(last.nsPerPacket - first.nsPerPacket, 0)} ns per packet`);
  }
  console.log(`reproduce: npm run build && node test/bench/nft-set-scaling.mjs --sizes ${SIZES.join(',')} --seconds ${SECONDS} --reps ${REPS}`);
} catch (err) {
  console.error(`\nnft-set-scaling bench failed: ${err?.stack ?? err}`);
  process.exitCode = 1;
} finally {
  scope.cleanup();
}
process.exit(process.exitCode ?? 0);
