// The desk in the browser with 100,000 incidents (issue 14): the real
// cordon-controller (dist/, its own process) on a real SQLite file seeded
// with --incidents incidents over --hosts hosts (most closed, some open
// thousands waiting for an operator: the queue's worst case is the number of
// open incidents, not of all incidents), each with its complaint and history
// event; web.desk.listen on 127.0.0.1 with a PKI from deploy/pki/cordon-pki;
// npm autocannon with the operator's client certificate (tlsOptions) at
// --connections connections measuring GET / (the queue) and GET
// /incidents/:id (a random incident each request). Target: p99 <= 100 ms.
// Besides the answered incidents, the store holds some of every other reason
// the queue lists (--others N of each, default 100): hosts whose desired
// state did not reach their agent (no agent connects here, so a failed one
// reads as unreachable, as the host page says), cuts whose BMC stopped
// answering, held escalations, bounced notices, unseen customer messages,
// needs_info and held reports. After the runs, countQueue (the totals a
// page shows beside the first 200) is timed on its own connection.
//
//   npm run build && node test/bench/desk-pages.mjs [--incidents 100000] [--hosts 300] [--connections 10] [--seconds 10] [--open N] [--others N] [--changes-per-second 10]
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
    // Commits per second during the third run (each takes an entry off the queue).
    'changes-per-second': { type: 'string', default: '10' },
    others: { type: 'string', default: '100' },
  },
});
const N = Number(flags.incidents);
const HOSTS = Number(flags.hosts);
const connections = Number(flags.connections);
const seconds = Number(flags.seconds);
const changesPerSecond = Number(flags['changes-per-second']);

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
await seedOtherReasons(Math.min(Number(flags.others), Math.floor(HOSTS / 3)));
const seedMs = performance.now() - t0;
await store.close();

/**
 * Some of every reason besides an answer, on the open incidents seeded above
 * (their host and category slots are all taken): n/5 hosts carry an SMTP
 * block whose generation their agent never got (half with a failure
 * reported for an older one), n/5 more an isolate whose BMC's latest checks
 * failed, and n each: held escalations (the held
 * event sets held_at), bounced notices, unseen page messages on their own
 * incidents, needs_info and held reports.
 */
async function seedOtherReasons(n) {
  const notified = await store.db.all("SELECT id, host_id FROM incidents WHERE state = 'notified' ORDER BY id");
  const byHost = new Map();
  for (const r of notified) if (!byHost.has(r.host_id)) byHost.set(r.host_id, r.id);
  const troubled = [...byHost.entries()];
  const taken = new Set(byHost.values());
  const spare = notified.filter((r) => !taken.has(r.id)).map((r) => r.id);
  // Hosts in trouble are fewer than reports waiting: a fifth of n each.
  const m = Math.ceil(n / 5);
  await store.db.transaction(async () => {
    for (let h = 0; h < Math.min(2 * m, troubled.length); h++) {
      const [host, id] = troubled[h];
      const cut = h >= m;
      const action = cut ? { kind: 'isolate' } : { kind: 'smtp_block', ports: [25, 465, 587] };
      const since = now - (2 * m - h) * 60_000;
      await store.db.run("UPDATE incidents SET state = 'enforced', actions_json = ?, escalated_at = ?, step = 0 WHERE id = ?", [JSON.stringify([action]), since, id]);
      await store.db.run('INSERT INTO enforcements (incident_id, host_id, kind, action_json, reason, since) VALUES (?, ?, ?, ?, ?, ?)', [id, host, action.kind, JSON.stringify(action), 'bench', since]);
      await store.db.run('INSERT INTO host_desired (host_id, generation, issued_at) VALUES (?, 2, ?)', [host, since]);
      if (cut) {
        await store.db.run("INSERT INTO host_status (host_id, status, applied_generation, reported_at) VALUES (?, 'applied', 2, ?)", [host, since]);
        // A day of checks every 10 minutes; the last six failed.
        for (let k = 144; k >= 1; k--) {
          const bad = k <= 6;
          await store.db.run('INSERT INTO bmc_checks (host_id, at, reachable, sol, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)', [host, now - k * 600_000, bad ? 0 : 1, 'not_required', bad ? 'timeout' : null, 40]);
        }
      } else if (h % 2 === 0) {
        await store.db.run("INSERT INTO host_status (host_id, status, applied_generation, error, reported_at) VALUES (?, 'failed', 1, 'nft: Error: Could not process rule', ?)", [host, since + 1000]);
      }
    }
    const take = (k) => spare.splice(0, k);
    for (const [k, id] of take(n).entries()) {
      await store.db.run("UPDATE incidents SET state = 'escalated', hold = 'rate_limit', escalated_at = ? WHERE id = ?", [now - k * 60_000, id]);
      await store.db.run("INSERT INTO incident_events (incident_id, at, type, from_state, to_state, actor, detail_json) VALUES (?, ?, 'held', 'escalated', 'escalated', 'policy', '{}')", [id, now - k * 60_000]);
    }
    for (const [k, id] of take(n).entries()) await store.db.run('UPDATE incidents SET notice_undelivered_at = ? WHERE id = ?', [now - k * 60_000, id]);
    for (const [k, id] of take(n).entries()) {
      await store.db.run(
        "INSERT INTO customer_messages (id, incident_id, at, channel, kind, answer, body, actor) VALUES (?, ?, ?, 'page', 'answer', 'ack', 'we are on it', 'customer')",
        [`msg-bench-${k}`, id, now - k * 60_000],
      );
    }
    for (let k = 0; k < 2 * n; k++) {
      const status = k < n ? 'needs_info' : 'held';
      await store.db.run(
        `INSERT INTO complaints (id, received_at, ip, category, reporter, reporter_kind, raw, evidence, status, reason) VALUES (?, ?, ?, 'spam', 'Bench reporter', 'individual', 'bench report', 'evidence', ?, ?)`,
        [`cmp-other-${k}`, now - k * 60_000, k < n ? 'unknown' : `10.0.${k % 250}.9`, status, status === 'held' ? 'its event precedes the resolution of an earlier incident: held for an operator' : 'no known report format'],
      );
    }
  });
}

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
// Rows, not the page's sentence: it reads "200 waiting" or "Showing 200 of 2,490" depending on whether the route passes counts.
const shown = (queue.body.match(/<tr data-(?:incident|host|complaint)=/g) ?? []).length;
const sample = await get(`/incidents/${ids[ids.length - 1]}`);
if (sample.status !== 200) throw new Error(`an incident page answered ${sample.status}`);

/** autocannon against the desk with olga's client certificate. */
const desk = (opts) => run({ url: `https://127.0.0.1:${deskPort}`, tlsOptions, connections, ...opts });
const randomIncident = (req) => ({ ...req, path: `/incidents/${ids[Math.floor(Math.random() * ids.length)]}` });
// Warm-up, then the measured runs.
await desk({ duration: 2, requests: [{ setupRequest: randomIncident }] });
await desk({ duration: 2, requests: [{ path: '/' }] });
const results = { 'GET / (the queue)': await desk({ duration: seconds, requests: [{ path: '/' }] }), 'GET /incidents/:id (random)': await desk({ duration: seconds, requests: [{ setupRequest: randomIncident }] }) };

// The queue again while the desk changes --changes-per-second times a second: olga marks one incident's
// unseen customer messages seen over gRPC (DeskService/MarkMessagesSeen), a commit that takes an entry
// off the queue, so the page's read-once-per-change cannot serve a kept read across it.
const { DeskClient } = await import(`${ROOT}/dist/controller/cli/deskClient.js`);
const { resolveConnection } = await import(`${ROOT}/dist/controller/cli/connection.js`);
const grpc = new DeskClient(resolveConnection({ controller: `127.0.0.1:${grpcPort}`, pki, operator: 'olga' }, {}));
const unseenReader = new Store(await (await import(`${ROOT}/dist/controller/store/Database.js`)).Database.openReader(db));
const unseenIds = (await unseenReader.db.all('SELECT DISTINCT incident_id AS id FROM customer_messages WHERE seen_at IS NULL')).map((r) => r.id);
await unseenReader.close();
let changesMade = 0;
let changing = true;
const changer = (async () => {
  const every = 1000 / changesPerSecond;
  while (changing && changesMade < unseenIds.length) {
    const t = performance.now();
    await grpc.call('markMessagesSeen', { incidentId: unseenIds[changesMade], messageId: '' });
    changesMade++;
    await new Promise((r) => setTimeout(r, Math.max(0, every - (performance.now() - t))));
  }
})();
results[`GET / (the queue) with ${changesPerSecond} changes/s`] = await desk({ duration: seconds, requests: [{ path: '/' }] });
changing = false;
await changer;
grpc.close();

// countQueue on its own read-only connection to the same file (WAL), as a page would call it beside listQueue.
const { Database } = await import(`${ROOT}/dist/controller/store/Database.js`);
const { countQueue } = await import(`${ROOT}/dist/controller/desk/deskQueue.js`);
const reader = new Store(await Database.openReader(db));
const { createDeskQueue } = await import(`${ROOT}/dist/controller/desk/deskQueue.js`);
const counts = await countQueue(reader, () => false);
/** p50 and p99 of 200 sequential calls, in ms. */
const timed = async (fn) => {
  const ms = [];
  for (let k = 0; k < 200; k++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const pct = (p) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))].toFixed(1);
  return `p50 ${pct(50)}, p99 ${pct(99)}`;
};
const countTimes = await timed(() => countQueue(reader, () => false));
const { toIncidentMsg } = await import(`${ROOT}/dist/controller/desk/incidentDesk.js`);
const { DEFAULT_POLICY } = await import(`${ROOT}/dist/controller/incidents/policy.js`);
const alone = createDeskQueue({ store: reader, toMsg: (i) => toIncidentMsg(i, DEFAULT_POLICY), agentConnected: () => false });
const listTimes = await timed(() => alone.listQueue({ limit: 200 }));
await reader.close();
const per = Object.entries(counts.byWhy).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ');

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const lines = [
  `desk pages: ${N} incidents (${OPEN} open, ${waitingSeeded} answered), ${HOSTS} hosts, seeded in ${(seedMs / 1000).toFixed(1)} s; ${connections} connections for ${seconds} s each, on ${cpus().length} x ${cpu}`,
  `  waiting for a person: ${counts.total} (${per}); the queue's page shows ${shown}`,
];
for (const [name, r] of Object.entries(results)) {
  const codes = Object.entries(r).filter(([k]) => /^\dxx$/.test(k) && r[k] > 0).map(([k, v]) => `${k} ${v}`).join(', ');
  lines.push(`  ${name}: ${r.requests.total} requests (${Math.round(r.requests.average)} / s); ${codes}; errors ${r.errors}, timeouts ${r.timeouts}; latency ms p50 ${r.latency.p50}, p99 ${r.latency.p99}, max ${r.latency.max} (target p99 <= 100)`);
}
lines.push(`  changes made during the third run: ${changesMade} (of ${unseenIds.length} incidents with unseen messages)`);
lines.push(`  in the bench's process on its own connection, 200 calls each one at a time: listQueue (200) ms ${listTimes}; countQueue ms ${countTimes}`);
process.stdout.write(`${lines.join('\n')}\n`);
controller.kill('SIGTERM');
