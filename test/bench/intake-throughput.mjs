// Intake throughput: a generated Shadowserver-style CSV of N rows is parsed,
// matched to hosts (longest-prefix match in the store) and stored (complaint +
// incident routing, in transactions of IncidentService.INGEST_CHUNK complaints)
// through IncidentService.ingestReport, on each engine named by --engines:
//   sqlite      a real SQLite file, synchronous=FULL (the default engine);
//   postgresql  a throw-away PostgreSQL cluster (lib/pgBench.mjs; Debian's
//               postgresql package), reached over its Unix socket, with
//               durable commits (fsync, synchronous_commit, full_page_writes
//               on) unless --pg-durability off (the tests' settings).
// With H hosts each complaint's host is r % H, its address one of 14 in the
// host's /28: --hosts 2000 gives 7 complaints per incident, --hosts 28000 one.
// Results: test/bench/results/intake.md, BENCHMARKS.md.
//   npm run build && node test/bench/intake-throughput.mjs [--rows 100000] [--hosts 2000]
//     [--engines sqlite|postgresql|sqlite,postgresql] [--pg-durability on|off]
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { systemClock } from '../../dist/controller/clock.js';
import { IncidentService } from '../../dist/controller/services/IncidentService.js';
import { DEFAULT_POLICY } from '../../dist/controller/incidents/policy.js';
import { parseReport } from '../../dist/controller/intake/parseReport.js';
import { onEachEngine, parseEngines } from './lib/pgBench.mjs';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    hosts: { type: 'string', default: '2000' },
    engines: { type: 'string', default: 'sqlite' },
    'pg-durability': { type: 'string', default: 'on' },
  },
});
const ROWS = Number(values.rows);
const HOSTS = Number(values.hosts);
const ENGINES = parseEngines(values.engines);
if (!['on', 'off'].includes(values['pg-durability'])) throw new Error('--pg-durability: on or off');

// Hosts own one /28 each inside 10.0.0.0/8 (addresses only as data here; no traffic).
const unique = Array.from({ length: HOSTS }, (_, i) => ({ id: `h${i}`, customerId: `c${i % 500}`, publicPrefixes: [`10.${(i >> 8) & 255}.${i & 255}.0/28`], managementAddress: '10.255.0.1' }));
const header = 'timestamp,ip,protocol,port,hostname,tag,asn,geo,region,city';
const lines = [header];
for (let r = 0; r < ROWS; r++) {
  const h = unique[r % unique.length];
  const [a, b, c] = h.publicPrefixes[0].split('/')[0].split('.').map(Number);
  const host = `${a}.${b}.${c}.${(r % 14) + 1}`;
  lines.push(`2026-11-0${(r % 9) + 1} 0${r % 10}:00:00,${host},udp,1900,,ssdp,64500,NL,"Noord-Holland","Amsterdam, NL"`);
}
const csv = Buffer.from(lines.join('\r\n'));

/** Parses, then ingests the CSV into `store`; prints and returns the figures. */
async function measure(engine, store) {
  await store.hosts.upsertMany(unique);
  const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock: systemClock, log: pino({ level: 'silent' }), onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
  let t0 = performance.now();
  const parsed = await parseReport(csv, 'scan_ssdp-2026-11-02.csv');
  const parseMs = performance.now() - t0;
  // The same path as `cordonctl ingest`: parse again inside ingestReport, then match and store in chunked transactions.
  t0 = performance.now();
  const ingested = await service.ingestReport(csv, 'bench', 'scan_ssdp-2026-11-02.csv');
  const storeMs = performance.now() - t0 - parseMs;
  const opened = ingested.results.filter((r) => r.outcome === 'opened').length;
  const merged = ingested.results.filter((r) => r.outcome === 'merged').length;
  const n = parsed.complaints.length;
  const r = { engine, n, parseMs, storeMs, opened, merged, stored: n / (storeMs / 1000), endToEnd: n / ((parseMs + storeMs) / 1000) };
  console.log(`intake on ${engine}: ${ROWS} CSV rows (${(csv.length / 1e6).toFixed(1)} MB) -> ${n} complaints (distinct ip+category) over ${unique.length} hosts`);
  console.log(`  parse: ${parseMs.toFixed(0)} ms = ${Math.round(ROWS / (parseMs / 1000))} rows/s`);
  console.log(`  match + store: ${storeMs.toFixed(0)} ms = ${Math.round(r.stored)} complaints/s (${opened} incidents opened, ${merged} merged)`);
  console.log(`  end to end: ${Math.round(r.endToEnd)} complaints/s`);
  return r;
}

const results = await onEachEngine(ENGINES, { durable: values['pg-durability'] === 'on', prefix: 'cordon-intake-bench-' }, (engine, store) => measure(engine, store));
if (results.length > 1) {
  console.log('\nside by side (complaints per second):');
  console.log(`  ${'engine'.padEnd(60)} ${'match+store/s'.padStart(14)} ${'end to end/s'.padStart(13)} ${'store ms'.padStart(9)}`);
  for (const r of results) console.log(`  ${r.engine.padEnd(60)} ${String(Math.round(r.stored)).padStart(14)} ${String(Math.round(r.endToEnd)).padStart(13)} ${r.storeMs.toFixed(0).padStart(9)}`);
}
console.log(`reproduce: npm run build && node test/bench/intake-throughput.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
