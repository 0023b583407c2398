// Customer page benchmark (issue 13): the real cordon-controller (dist/, its
// own process, a real SQLite file) serving the customer page on 127.0.0.1,
// under --connections concurrent customers (npm autocannon), each request a
// GET of one of --incidents real incidents' pages through its real token.
// Reports requests/s and latency p50/p90/p99/max; the target is p99 <= 50 ms
// at 100 connections. Also measures the 404 of wrong tokens (which the rate
// limit turns into 429 after a few: reported separately, not mixed in).
//
//   npm run build && node test/bench/customer-page.mjs [--connections 100] [--seconds 10] [--incidents 100]
//
// Everything lives in a temporary folder removed at exit, with the controller.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchPki, benchWorkspace, freePort, loadAutocannon } from './lib/webBench.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: flags } = parseArgs({
  options: {
    connections: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    incidents: { type: 'string', default: '100' },
  },
});
const connections = Number(flags.connections);
const seconds = Number(flags.seconds);
const incidents = Number(flags.incidents);

const run = await loadAutocannon('customer-page');
const { dir, owns } = benchWorkspace('cordon-page-bench-');

const { Store } = await import(`${ROOT}/dist/controller/store/Store.js`);
const { IncidentService } = await import(`${ROOT}/dist/controller/services/IncidentService.js`);
const { DEFAULT_POLICY } = await import(`${ROOT}/dist/controller/incidents/policy.js`);
const { CustomerLinks } = await import(`${ROOT}/dist/controller/customer/CustomerLinks.js`);
const { loadLinkSecret } = await import(`${ROOT}/dist/controller/customer/linkSecret.js`);

// 1. PKI for the controller's gRPC side (the page itself is plain HTTP on loopback).
const pki = join(dir, 'pki');
const cordonPki = benchPki(ROOT, pki);

// 2. The store: one customer per incident, a host each, one complaint each (an incident in `received`/`notified`).
const db = join(dir, 'cordon.db');
const secretFile = join(dir, 'link-secret');
const secret = await loadLinkSecret(secretFile);
const pagePort = await freePort();
const publicUrl = `http://127.0.0.1:${pagePort}`;
const store = await Store.open(db);
const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } };
const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock: { now: () => new Date() }, log: quiet, onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
const links = new CustomerLinks(store, { secret, publicUrl, ttlDays: 30 });
const paths = [];
for (let n = 0; n < incidents; n++) {
  const customer = { id: `cust-${n}`, name: `Customer ${n}`, email: `ops${n}@customer${n}.example` };
  await store.customers.upsert(customer);
  // Addresses are data here: no packet is sent to them.
  await store.hosts.add({ id: `srv-${n}`, customerId: customer.id, publicPrefixes: [`10.${n >> 8}.${n & 255}.0/24`], managementAddress: `10.200.${n >> 8}.${n & 255}` });
  const r = await service.submitComplaint(
    { ip: `10.${n >> 8}.${n & 255}.7`, category: 'spam', reporter: 'Bench CERT', reporterKind: 'cert', eventTime: new Date(Date.now() - 3_600_000), evidence: `spam run from the host, sample ${n}`, raw: `bench report ${n}` },
    'bench',
  );
  const incident = await store.incidents.get(r.incidentId);
  const linkId = await links.issue(incident, customer.email, 'bench', new Date());
  paths.push(new URL(links.url(linkId)).pathname);
}
await store.close();

// 3. The controller, as an operator would run it.
const grpcPort = await freePort();
const config = {
  listen: `127.0.0.1:${grpcPort}`,
  tls: { ca: join(pki, 'ca.crt'), cert: join(pki, 'controller.crt'), key: join(pki, 'controller.key'), revokedSerialsFile: join(pki, 'revoked-serials') },
  store: { path: db },
  // No relay listens here: notices stay queued (retried later), which costs the page nothing.
  mail: { smtp: { host: '127.0.0.1', port: await freePort() } },
  metrics: { listen: '' },
  web: { customer: { listen: `127.0.0.1:${pagePort}`, publicUrl, secretFile } },
  log: { level: 'warn' },
};
writeFileSync(join(dir, 'controller.json'), JSON.stringify(config));
const controller = owns(spawn(process.execPath, [...(process.env.CORDON_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.CORDON_BENCH_CPU_PROF] : []), '--disable-warning=DEP0123', join(ROOT, 'dist/controller/main.js'), '--config', join(dir, 'controller.json')], { stdio: ['ignore', 'ignore', 'inherit'] }));
const deadline = Date.now() + 20_000;
for (;;) {
  if (await fetch(`${publicUrl}/healthz`).then((r) => r.ok).catch(() => false)) break;
  if (Date.now() > deadline || controller.exitCode !== null) throw new Error('the controller did not serve the page within 20 s');
  await new Promise((r) => setTimeout(r, 100));
}
const check = await fetch(`${publicUrl}${paths[0]}`);
if (check.status !== 200) throw new Error(`a real token's page answered ${check.status}`);


let next = 0;
// Warm-up, then the measured run: every request a different customer's page, round robin.
await run({ url: publicUrl, connections: 10, duration: 2, requests: [{ setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length] }) }] });
const result = await run({
  url: publicUrl,
  connections,
  duration: seconds,
  requests: [{ setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length] }) }],
});
const bad = await run({ url: `${publicUrl}/c/${'A'.repeat(43)}`, connections: 10, amount: 200 });

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const lat = result.latency;
const codes = Object.entries(result).filter(([k]) => /^\dxx$/.test(k)).map(([k, v]) => `${k} ${v}`).join(', ');
process.stdout.write(
  [
    `customer page: ${connections} concurrent customers for ${seconds} s over ${incidents} incidents, on ${cpus().length} x ${cpu}`,
    `  requests: ${result.requests.total} (${Math.round(result.requests.average)} / s); status ${codes}; errors ${result.errors}, timeouts ${result.timeouts}`,
    `  saturated (each connection sends its next request as soon as the answer arrives): latency ms p50 ${lat.p50}, p90 ${lat.p90}, p99 ${lat.p99}, max ${lat.max} (target: p99 <= 50)`,
    `  wrong tokens (one source, 200 requests): ${bad['4xx']} answered 4xx (404 until the limit, then 429), p99 ${bad.latency.p99} ms`,
    '',
  ].join('\n'),
);
controller.kill('SIGTERM');
