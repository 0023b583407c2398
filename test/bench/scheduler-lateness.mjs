// Deadline scheduler lateness with a large store: N open incidents ("notified",
// each with its acknowledge deadline as next_due_at), of which --due fall due
// evenly within a short window starting --lead seconds after seeding; the real
// DeadlineScheduler (systemClock) then runs, and each firing records how late
// it came (wall time at the handler minus the due time).
//   npm run build && node test/bench/scheduler-lateness.mjs [--incidents 100000] [--due 2000|all] [--window 20] [--lead 3] [--handler clear|apply|apply-each]
//     [--engines sqlite|postgresql|sqlite,postgresql] [--pg-durability on|off]
// --handler clear (default): records the lateness and clears the incident's
//   next_due_at with one UPDATE through the store (the least the real handler
//   writes), so it measures the scheduler itself: its queries and its timer.
// --handler apply: the real path as runController wires it (fireDeadlines):
//   a page of up to 500 due deadlines in one transaction, read and written in
//   bulk (IncidentService.applyMany: escalation, events, audit, the customer
//   page's link, the mail in the outbox), lateness taken at the page's commit.
// --handler apply-each: the path before pages, IncidentService.apply(deadline)
//   in a transaction of its own per deadline (about 500-1,000/s here).
// --engines: each engine in turn, the same seed and window, figures side by
//   side at the end. sqlite (default): a real SQLite file. postgresql: a
//   throw-away cluster (lib/pgBench.mjs) over its Unix socket, durable
//   commits unless --pg-durability off, ANALYZE after seeding (what
//   autovacuum would do after a bulk load); its RSS is the server's, not
//   in this process's figure, so the server's Pss is printed beside it.
// Seeding is a direct bulk INSERT in one transaction (not the intake path).
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { systemClock } from '../../dist/controller/clock.js';
import { DeadlineScheduler, oneByOne } from '../../dist/controller/services/DeadlineScheduler.js';
import { IncidentService } from '../../dist/controller/services/IncidentService.js';
import { fireDeadlines } from '../../dist/controller/services/fireDeadlines.js';
import { CustomerLinks } from '../../dist/controller/customer/CustomerLinks.js';
import { CATEGORIES } from '../../dist/controller/incidents/model.js';
import { DEFAULT_POLICY } from '../../dist/controller/incidents/policy.js';
import { onEachEngine, parseEngines } from './lib/pgBench.mjs';

const { values } = parseArgs({
  options: {
    incidents: { type: 'string', default: '100000' },
    due: { type: 'string', default: '2000' },
    window: { type: 'string', default: '20' },
    lead: { type: 'string', default: '3' },
    handler: { type: 'string', default: 'clear' },
    engines: { type: 'string', default: 'sqlite' },
    'pg-durability': { type: 'string', default: 'on' },
  },
});
const N = Number(values.incidents);
const DUE = values.due === 'all' ? N : Math.min(N, Number(values.due));
const WINDOW_MS = Number(values.window) * 1000;
const LEAD_MS = Number(values.lead) * 1000;
const ENGINES = parseEngines(values.engines);
if (!['on', 'off'].includes(values['pg-durability'])) throw new Error('--pg-durability: on or off');
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const log = pino({ level: 'silent' });

/** Seeds `store`, runs the scheduler over the window, prints and returns the figures. */
async function measure(engine, store, afterSeed, server) {
  const db = store.db;
  let t0 = performance.now();
  // One host per category-full of incidents: one open incident per host and category (incidents_one_open).
  const hosts = Math.ceil(N / CATEGORIES.length);
  const FAR = Date.now() + 30 * 24 * 3_600_000; // incidents not in the window are due in 30 days
  await db.transaction(async () => {
    // Customers with notice addresses: each escalation's mail then carries a link to the customer page.
    for (let i = 0; i < Math.min(hosts, 10000); i += 5000) {
      const n = Math.min(5000, Math.min(hosts, 10000) - i);
      await db.run(`INSERT INTO customers (id, name, email) VALUES ${Array(n).fill('(?, ?, ?)').join(', ')}`,
        Array.from({ length: n }, (_, k) => [`c${i + k}`, `Customer ${i + k}`, `noc@c${i + k}.example`]).flat());
    }
    for (let i = 0; i < hosts; i += 5000) {
      const n = Math.min(5000, hosts - i);
      await db.run(`INSERT INTO hosts (id, customer_id, management_address) VALUES ${Array(n).fill('(?, ?, ?)').join(', ')}`,
        Array.from({ length: n }, (_, k) => [`h${i + k}`, `c${(i + k) % 10000}`, '10.255.0.1']).flat());
    }
    const opened = Date.now() - 3_600_000;
    for (let i = 0; i < N; i += 1000) {
      const n = Math.min(1000, N - i);
      const rows = [];
      for (let k = 0; k < n; k++) {
        const j = i + k;
        // Placeholder due times: the window is laid over them once seeding is done.
        const due = j < DUE ? j : FAR + j;
        rows.push(`inc-${j}`, `h${Math.floor(j / CATEGORIES.length)}`, `c${Math.floor(j / CATEGORIES.length) % 10000}`, CATEGORIES[j % CATEGORIES.length], opened, opened, due, due);
      }
      await db.run(
        `INSERT INTO incidents (id, host_id, customer_id, category, state, trusted, opened_at, notified_at, ack_due_at, resolve_due_at,
           step, actions_json, complaint_count, next_due_at)
         VALUES ${Array(n).fill("(?, ?, ?, ?, 'notified', 0, ?, ?, ?, NULL, -1, '[]', 1, ?)").join(', ')}`,
        rows,
      );
    }
  });
  const seedMs = performance.now() - t0;
  // The window: DUE deadlines spread evenly over [start, start + WINDOW_MS].
  const start = Date.now() + LEAD_MS;
  t0 = performance.now();
  // The step is fractional: typed as a double for PostgreSQL, which would otherwise read the parameter as BIGINT.
  const step = WINDOW_MS / Math.max(1, DUE - 1);
  await db.run(
    `UPDATE incidents SET ack_due_at = ? + CAST(next_due_at * CAST(? AS DOUBLE PRECISION) AS BIGINT),
       next_due_at = ? + CAST(next_due_at * CAST(? AS DOUBLE PRECISION) AS BIGINT) WHERE next_due_at < ?`,
    [start, step, start, step, DUE],
  );
  await afterSeed(db);
  const windowMs = performance.now() - t0;
  const rssSeeded = process.memoryUsage().rss;
  console.log(`scheduler on ${engine}: ${N} open incidents (${hosts} hosts), ${DUE} due within ${WINDOW_MS / 1000} s from ${LEAD_MS / 1000} s after seeding; handler ${values.handler}`);
  console.log(`  seed (one bulk transaction): ${(seedMs / 1000).toFixed(1)} s; lay the window: ${(windowMs / 1000).toFixed(1)} s; RSS after seeding ${mb(rssSeeded)}`);
  if (Date.now() > start) console.log('  WARNING: the window opened before the scheduler started; raise --lead');

  t0 = performance.now();
  const earliest = await store.incidents.earliestDue();
  const probeMs = performance.now() - t0;

  const lateness = [];
  let scheduler;
  let handler;
  let firePage;
  if (values.handler === 'apply' || values.handler === 'apply-each') {
    // Customer links as a controller with the customer page makes them: each escalation's mail carries one.
    const links = new CustomerLinks(store, { secret: Buffer.alloc(32, 7), publicUrl: 'https://abuse.example', ttlDays: 30 });
    const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock: systemClock, log, links, onHostChanged() {}, onOutbox() {}, onDeadlinesChanged: () => void scheduler?.kick() });
    handler = async (id, dueAt) => {
      lateness.push(Date.now() - dueAt.getTime());
      await service.apply(id, { type: 'deadline', dueAt }, 'clock');
    };
    // As runController fires them: a page of due deadlines in one transaction. Lateness is taken at
    // the page's commit (when the escalation is in the store), not when its handler starts.
    if (values.handler === 'apply') {
      firePage = async (page) => {
        const failed = await fireDeadlines(service, store, page);
        const at = Date.now();
        for (const d of page) lateness.push(at - d.dueAt.getTime());
        return failed;
      };
    }
  } else {
    handler = async (id, dueAt) => {
      lateness.push(Date.now() - dueAt.getTime());
      await db.run('UPDATE incidents SET next_due_at = NULL WHERE id = ?', [id]);
    };
  }
  let rssMax = process.memoryUsage().rss;
  let serverPssMax = server?.().pss ?? 0;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    if (server) serverPssMax = Math.max(serverPssMax, server().pss);
  }, 200);
  scheduler = new DeadlineScheduler(store.incidents, firePage ?? oneByOne(handler), systemClock, log);
  await scheduler.start();
  const deadline = start + WINDOW_MS + 120_000;
  while (lateness.length < DUE && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  scheduler.stop();
  clearInterval(sampler);
  await scheduler.kick().catch(() => undefined);

  const sorted = [...lateness].sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  const r = { engine, seedMs, probeMs, fired: lateness.length, p50: pct(50), p99: pct(99), max: sorted.at(-1), rssMax, serverPssMax: server ? serverPssMax : undefined };
  console.log(`  earliestDue() with ${N} rows: ${probeMs.toFixed(1)} ms (first due ${earliest?.id})`);
  console.log(`  fired ${lateness.length} of ${DUE}; lateness ms: p50 ${r.p50}, p99 ${r.p99}, max ${r.max}`);
  console.log(`  RSS: max ${mb(rssMax)} while firing (heap used ${mb(process.memoryUsage().heapUsed)})${server ? `; the PostgreSQL server's processes: Pss max ${mb(serverPssMax)}` : ''}`);
  return r;
}

const results = await onEachEngine(ENGINES, { durable: values['pg-durability'] === 'on', prefix: 'cordon-sched-bench-' }, (engine, store, cluster) =>
  cluster
    ? measure(engine, store, (db) => db.exec('ANALYZE incidents'), () => cluster.sample())
    : measure(engine, store, (db) => db.exec('PRAGMA wal_checkpoint(TRUNCATE)')),
);
if (results.length > 1) {
  console.log(`\nside by side (${N} open incidents, ${DUE} due in ${WINDOW_MS / 1000} s, handler ${values.handler}):`);
  console.log(`  ${'engine'.padEnd(52)} ${'seed s'.padStart(7)} ${'earliestDue ms'.padStart(15)} ${'fired'.padStart(6)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'max ms'.padStart(7)}`);
  for (const r of results) {
    console.log(`  ${r.engine.padEnd(52)} ${(r.seedMs / 1000).toFixed(1).padStart(7)} ${r.probeMs.toFixed(1).padStart(15)} ${String(r.fired).padStart(6)} ${String(r.p50).padStart(7)} ${String(r.p99).padStart(7)} ${String(r.max).padStart(7)}`);
  }
}
console.log(`reproduce: npm run build && node test/bench/scheduler-lateness.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
