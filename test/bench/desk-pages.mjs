// The desk in the browser with 100,000 incidents (issue 14): the real
// cordon-controller (dist/, its own process) on a real SQLite file seeded
// with --incidents incidents over --hosts hosts (most closed, some open
// thousands waiting for an operator: the queue's worst case is the number of
// open incidents, not of all incidents), each with its complaint and history
// event; web.desk.listen on 127.0.0.1 with a PKI from deploy/pki/cordon-pki;
// npm autocannon with the operator's client certificate (tlsOptions) at
// --connections connections measuring GET / (the queue) and GET
// /incidents/:id (a random incident each request). Target: p99 <= 100 ms.
//
//   npm run build && node test/bench/desk-pages.mjs [--incidents 100000] [--hosts 300] [--connections 10] [--seconds 10] [--open N]
//
// CORDON_BENCH_CPU_PROF=DIR writes the controller's CPU profile there.
// Everything lives in a temporary folder removed at exit, with the controller.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchPki, benchWorkspace, freePort, loadAutocannon } from './lib/webBench.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: flags } = parseArgs({
  options: {
    incidents: { type: 'string', default: '100000' },
    hosts: { type: 'string', default: '300' },
    connections: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    // Incidents open (default: one in 20, at most one per host and category); half of them wait for an operator.
    open: { type: 'string' },
  },
});
const N = Number(flags.incidents);
const HOSTS = Number(flags.hosts);
const connections = Number(flags.connections);
const seconds = Number(flags.seconds);

const run = await loadAutocannon('desk-pages');
const { dir, owns } = benchWorkspace('cordon-desk-bench-');

const { Store } = await import(`${ROOT}/dist/controller/store/Store.js`);
const { CATEGORIES } = await import(`${ROOT}/dist/controller/incidents/model.js`);

// 1. The PKI: the controller (also the desk's server certificate) and an abuse operator.
const pki = join(dir, 'pki');
const cordonPki = benchPki(ROOT, pki);
cordonPki('issue-operator', 'olga', 'abuse_operator');

// 2. The store: hosts and customers through the repositories; incidents, complaints and events in large transactions.
const db = join(dir, 'cordon.db');
const store = await Store.open(db);
let t0 = performance.now();
for (let h = 0; h < HOSTS; h++) {
  const customerId = `cust-${h % Math.ceil(HOSTS / 3)}`;
  if (h < Math.ceil(HOSTS / 3)) await store.customers.upsert({ id: customerId, name: `Customer ${h}`, email: `ops${h}@customer${h}.example` });
  // Addresses are data here: no packet is sent to them.
  await store.hosts.add({ id: `srv-${h}`, customerId, publicPrefixes: [`10.${h >> 8}.${h & 255}.0/24`], managementAddress: `10.200.${h >> 8}.${h & 255}` });
}
// Open incidents: at most one per host and category (incidents_one_open); the rest closed, as a desk's history is.
const OPEN_STATES = ['notified', 'customer_resolved', 'disputed', 'acknowledged'];
const openSlots = HOSTS * CATEGORIES.length;
const OPEN = Math.min(flags.open === undefined ? Math.floor(N / 20) : Number(flags.open), openSlots);
const now = Date.now();
const ids = [];
let waitingSeeded = 0;
const CHUNK = 500;
await store.db.transaction(async () => {
  for (let i = 0; i < N; i += CHUNK) {
    const n = Math.min(CHUNK, N - i);
    const inc = [];
    const com = [];
    const ev = [];
    for (let k = 0; k < n; k++) {
      const j = i + k;
      const open = j < OPEN;
      const host = j % HOSTS;
      const category = open ? CATEGORIES[Math.floor(j / HOSTS) % CATEGORIES.length] : CATEGORIES[j % CATEGORIES.length];
      const state = open ? OPEN_STATES[j % OPEN_STATES.length] : 'closed';
      if (state === 'customer_resolved' || state === 'disputed') waitingSeeded++;
      const opened = now - (N - j) * 60_000;
      const id = `inc-${String(j).padStart(7, '0')}`;
      ids.push(id);
      inc.push(id, `srv-${host}`, `cust-${host % Math.ceil(HOSTS / 3)}`, category, state, opened, opened + 60_000, open ? now + 86_400_000 : null, open ? null : opened + 3_600_000, open ? now + 86_400_000 : null);
      const ip = `10.${host >> 8}.${host & 255}.7`;
      com.push(`cmp-${j}`, opened, opened - 60_000, ip, category, 'Bench CERT', 'cert', `bench report ${j} about ${ip}`, `${category} from ${ip}, sample ${j}`, id, `${category} from ${ip}`);
      ev.push(id, opened, 'opened', null, 'received', 'intake', '{}');
    }
    await store.db.run(
      `INSERT INTO incidents (id, host_id, customer_id, category, state, trusted, opened_at, notified_at, ack_due_at, closed_at, step, actions_json, complaint_count, next_due_at)
       VALUES ${Array(n).fill("(?, ?, ?, ?, ?, 1, ?, ?, ?, ?, -1, '[]', 1, ?)").join(', ')}`,
      inc,
    );
    await store.db.run(
      `INSERT INTO complaints (id, received_at, event_time, ip, category, reporter, reporter_kind, raw, evidence, incident_id, status, excerpt)
       VALUES ${Array(n).fill("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'linked', ?)").join(', ')}`,
      com,
    );
    await store.db.run(`INSERT INTO incident_events (incident_id, at, type, from_state, to_state, actor, detail_json) VALUES ${Array(n).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')}`, ev);
  }
});
const seedMs = performance.now() - t0;
await store.close();

// 3. The controller, as an operator would run it, with the desk on loopback.
const grpcPort = await freePort();
const deskPort = await freePort();
const config = {
  listen: `127.0.0.1:${grpcPort}`,
  tls: { ca: join(pki, 'ca.crt'), cert: join(pki, 'controller.crt'), key: join(pki, 'controller.key'), revokedSerialsFile: join(pki, 'revoked-serials') },
  store: { path: db },
  mail: { smtp: { host: '127.0.0.1', port: await freePort() } },
  metrics: { listen: '' },
  web: { desk: { listen: `127.0.0.1:${deskPort}` } },
  log: { level: 'warn' },
};
writeFileSync(join(dir, 'controller.json'), JSON.stringify(config));
const prof = process.env.CORDON_BENCH_CPU_PROF;
const controller = owns(spawn(process.execPath, [...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []), '--disable-warning=DEP0123', join(ROOT, 'dist/controller/main.js'), '--config', join(dir, 'controller.json')], {
  stdio: ['ignore', 'ignore', 'inherit'],
}));
const tlsOptions = { cert: readFileSync(join(pki, 'operator-olga.crt')), key: readFileSync(join(pki, 'operator-olga.key')), ca: readFileSync(join(pki, 'ca.crt')) };
const get = (path) =>
  new Promise((res) => {
    const req = request({ host: '127.0.0.1', port: deskPort, path, ...tlsOptions, agent: false }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => res({ status: r.statusCode, body }));
    });
    req.on('error', () => res({ status: 0, body: '' }));
    req.end();
  });
const deadline = Date.now() + 60_000;
for (;;) {
  if ((await get('/')).status === 200) break;
  if (Date.now() > deadline || controller.exitCode !== null) throw new Error('the controller did not serve the desk within 60 s');
  await new Promise((r) => setTimeout(r, 200));
}
const queue = await get('/');
const waiting = queue.body.match(/(\d+) incidents? waiting for a person/)?.[1] ?? '0';
const sample = await get(`/incidents/${ids[ids.length - 1]}`);
if (sample.status !== 200) throw new Error(`an incident page answered ${sample.status}`);

/** autocannon against the desk with olga's client certificate. */
const desk = (opts) => run({ url: `https://127.0.0.1:${deskPort}`, tlsOptions, connections, ...opts });
const randomIncident = (req) => ({ ...req, path: `/incidents/${ids[Math.floor(Math.random() * ids.length)]}` });
// Warm-up, then the measured runs.
await desk({ duration: 2, requests: [{ setupRequest: randomIncident }] });
await desk({ duration: 2, requests: [{ path: '/' }] });
const results = { 'GET / (the queue)': await desk({ duration: seconds, requests: [{ path: '/' }] }), 'GET /incidents/:id (random)': await desk({ duration: seconds, requests: [{ setupRequest: randomIncident }] }) };

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const lines = [`desk pages: ${N} incidents (${OPEN} open, ${waitingSeeded} waiting for an operator, ${waiting} on the queue's page), ${HOSTS} hosts, seeded in ${(seedMs / 1000).toFixed(1)} s; ${connections} connections for ${seconds} s each, on ${cpus().length} x ${cpu}`];
for (const [name, r] of Object.entries(results)) {
  const codes = Object.entries(r).filter(([k]) => /^\dxx$/.test(k) && r[k] > 0).map(([k, v]) => `${k} ${v}`).join(', ');
  lines.push(`  ${name}: ${r.requests.total} requests (${Math.round(r.requests.average)} / s); ${codes}; errors ${r.errors}, timeouts ${r.timeouts}; latency ms p50 ${r.latency.p50}, p99 ${r.latency.p99}, max ${r.latency.max} (target p99 <= 100)`);
}
process.stdout.write(`${lines.join('\n')}\n`);
controller.kill('SIGTERM');
