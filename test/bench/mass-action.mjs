// An approved mass action's transaction, counted: IncidentService.enforceHosts
// on N hosts (what the Approve of a four-eyes mass action runs), then a second
// one over the same hosts' open incidents, on a real store; each with its
// time and the statements it sent (run/get/all on the store's connection;
// BEGIN, COMMIT and savepoints aside). Customers have notice addresses and
// customer links are on, as a controller with the customer page makes them.
//   npm run build && node test/bench/mass-action.mjs [--hosts 1000] [--engines sqlite|postgresql|sqlite,postgresql]
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { systemClock } from '../../dist/controller/clock.js';
import { CustomerLinks } from '../../dist/controller/customer/CustomerLinks.js';
import { DEFAULT_POLICY } from '../../dist/controller/incidents/policy.js';
import { IncidentService } from '../../dist/controller/services/IncidentService.js';
import { onEachEngine, parseEngines } from './lib/pgBench.mjs';

const { values } = parseArgs({ options: { hosts: { type: 'string', default: '1000' }, engines: { type: 'string', default: 'sqlite' } } });
const N = Number(values.hosts);
if (!Number.isInteger(N) || N < 1 || N > 60_000) throw new Error('--hosts: an integer from 1 to 60000');
const CUSTOMERS = Math.max(1, Math.ceil(N / 3));

/** Runs `fn`, counting the statements the store's connection sends meanwhile. */
async function counted(store, fn) {
  const db = store.db;
  const saved = { run: db.run, get: db.get, all: db.all };
  let n = 0;
  for (const m of Object.keys(saved)) db[m] = (...a) => (n++, saved[m].apply(db, a));
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    Object.assign(db, saved);
  }
  return { statements: n, ms: performance.now() - t0 };
}

await onEachEngine(parseEngines(values.engines), { durable: true, prefix: 'cordon-mass-bench-' }, async (engine, store) => {
  await store.hosts.upsertMany(Array.from({ length: N }, (_, k) => ({ id: `h${k}`, customerId: `c${k % CUSTOMERS}`, publicPrefixes: [`10.${k >> 16}.${(k >> 8) & 255}.${k & 255}/32`], managementAddress: '10.255.0.1' })));
  for (let c = 0; c < CUSTOMERS; c++) await store.customers.upsert({ id: `c${c}`, name: `Customer ${c}`, email: `noc@c${c}.example` });
  const links = new CustomerLinks(store, { secret: Buffer.alloc(32, 7), publicUrl: 'https://abuse.example', ttlDays: 30 });
  const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock: systemClock, log: pino({ level: 'silent' }), links, onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
  const hosts = Array.from({ length: N }, (_, k) => `h${k}`);
  const first = await counted(store, () => service.enforceHosts(hosts, { kind: 'smtp_block' }, 'spam wave', 'olga'));
  const second = await counted(store, () => service.enforceHosts(hosts, { kind: 'throttle', rateBps: 1_000_000 }, 'still sending', 'olga'));
  console.log(`${engine}: enforceHosts on ${N} hosts (${CUSTOMERS} customers), one transaction each`);
  for (const [what, r] of [['first action (opens an incident per host)', first], ['second action (over their open incidents)', second]]) {
    console.log(`  ${what.padEnd(44)} ${r.ms.toFixed(0).padStart(6)} ms  ${String(r.statements).padStart(6)} statements  ${(r.statements / N).toFixed(2)} per host`);
  }
});
console.log(`reproduce: npm run build && node test/bench/mass-action.mjs ${process.argv.slice(2).join(' ')}`.trimEnd());
