import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsblQueryName } from '../../controller/monitoring/dnsbl/dnsblQueryName.js';
import type { DnsblTunables } from '../../controller/monitoring/dnsbl/dnsblSettings.js';
import { ZEN_RETURN_CODES } from '../../controller/monitoring/dnsbl/zenReturnCodes.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { dnsServerGate, startDnsServer, type DnsRecords, type DnsServer } from '../helpers/dnsServer.js';
import { pgMissing, startPgCluster, type PgCluster } from '../helpers/pgCluster.js';
import { TestPki } from '../helpers/pki.js';
import { recordingLog, type RecordedLine } from '../helpers/recordingLog.js';
import { waitFor } from '../helpers/waitFor.js';

const missing = pgMissing() ?? (dnsServerGate().ok ? undefined : dnsServerGate().reason);
if (missing) console.warn(`SKIP test/integration/dnsblReplicas.test.ts: ${missing}`);

const ZONE = 'zen.test';
const zone = (listed: string[], port?: number): DnsRecords => ({
  a: Object.fromEntries(listed.map((ip) => [dnsblQueryName(ip, ZONE), ['127.0.0.2']])),
  txt: Object.fromEntries(listed.map((ip) => [dnsblQueryName(ip, ZONE), [`https://check.spamhaus.org/sbl/query/${ip.replace(/\./g, '-')}`]])),
  authoritative: [ZONE],
  ...(port ? { port } : {}),
});

/**
 * Two replicas on one PostgreSQL database with the DNSBL checks on: only the
 * replica whose id sorts first runs the scheduled check, and when both
 * check at once (checkOnce bypasses the turn), a listing still opens one
 * incident with one complaint linked to it.
 */
describe.skipIf(missing)('DNSBL checks on two replicas', () => {
  let pki: TestPki;
  let cluster: PgCluster;
  let dns: DnsServer;
  const replicas: Controller[] = [];

  const logs = new Map<string, RecordedLine[]>();
  const start = async (url: string, id: string) => {
    const store = await Store.openUrl(url, { maxConnections: 4 });
    const recorded = recordingLog('debug');
    logs.set(id, recorded.lines);
    const dnsbl: DnsblTunables = { zones: [{ zone: ZONE, codes: { ...ZEN_RETURN_CODES } }], resolverServers: [dns.address], timeoutMs: 2_000, intervalMs: 86_400_000, spreadMs: 0, cacheMs: 0 };
    const c = await runController(controllerSettings(pki, store, { dnsbl, replica: { url, id, listen: 'test', fleet: { heartbeatMs: 200, deadAfterMs: 1_500, refreshMs: 500 } }, log: recorded.log }));
    replicas.push(c);
    return c;
  };

  beforeAll(async () => {
    pki = new TestPki();
    cluster = await startPgCluster();
    dns = await startDnsServer({}, zone(['203.0.113.2']));
  }, 120_000);
  afterAll(async () => {
    for (const c of replicas) {
      await c.stop(200);
      await c.store.close();
    }
    await dns?.stop();
    await cluster?.stop();
    pki?.cleanup();
  });

  it('runs the scheduled check on one replica, and files a listing both find at once one time', async () => {
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('CREATE DATABASE dnsbl_replicas');
    await admin.end();
    const url = cluster.url.replace('/cordon?', '/dnsbl_replicas?');
    const seed = await Store.openUrl(url, { maxConnections: 1 });
    await seed.customers.upsert({ id: 'acme', name: 'Acme', email: 'ops@acme.example' });
    await seed.hosts.add({ id: 'mail-1', customerId: 'acme', publicPrefixes: ['203.0.113.2/32'], managementAddress: '10.255.0.1' });
    await seed.hosts.add({ id: 'mail-2', customerId: 'acme', publicPrefixes: ['203.0.113.3/32'], managementAddress: '10.255.0.2' });
    await seed.close();

    // a sorts first: it runs the scheduled check, b skips its own.
    const a = await start(url, 'replica-a');
    await waitFor('the scheduled check on replica-a', async () => (await a.store.incidents.list()).length === 1);
    const b = await start(url, 'replica-b');
    const bLines = logs.get('replica-b')!;
    await waitFor("replica-b's skipped check", () => bLines.some((l) => l.msg === 'dnsbl: another replica runs the checks; skipped'));
    expect(bLines.filter((l) => /^dnsbl (check done|listing)/.test(l.msg))).toEqual([]);
    const filed = await b.store.audit.search({ actionPrefix: 'dnsbl.', limit: 10 });
    expect(filed.map((e) => [e.action, e.actor])).toEqual([['dnsbl.filed', `dnsbl:${ZONE}`]]);

    // A new listing, found by both at once.
    const { port } = dns;
    await dns.stop();
    dns = await startDnsServer({}, zone(['203.0.113.2', '203.0.113.3'], port));
    const [sa, sb] = await Promise.all([a.dnsbl!.checkOnce(), b.dnsbl!.checkOnce()]);
    expect([...sa.listed, ...sb.listed].map((l) => l.ip)).toEqual(['203.0.113.3', '203.0.113.3']);
    const incidents = (await a.store.incidents.list()).filter((i) => i.hostId === 'mail-2');
    expect(incidents).toHaveLength(1);
    const complaints = await a.store.complaints.listByIncident(incidents[0]!.id);
    expect(complaints.filter((c) => c.status === 'linked')).toHaveLength(1);
    expect(complaints.every((c) => c.status === 'linked' || c.status === 'duplicate')).toBe(true);
    expect((await a.store.incidents.list()).filter((i) => i.hostId === 'mail-1')).toHaveLength(1);
  }, 60_000);
});
