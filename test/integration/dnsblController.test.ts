import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DNSBL_DELISTED_EVENT } from '../../controller/monitoring/DnsblIntake.js';
import { dnsblQueryName } from '../../controller/monitoring/dnsbl/dnsblQueryName.js';
import type { DnsblTunables } from '../../controller/monitoring/dnsbl/dnsblSettings.js';
import { ZEN_RETURN_CODES } from '../../controller/monitoring/dnsbl/zenReturnCodes.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { dnsServerGate, startDnsServer, type DnsRecords, type DnsServer } from '../helpers/dnsServer.js';
import { TestPki } from '../helpers/pki.js';

const gate = dnsServerGate();
if (!gate.ok) process.stderr.write(`SKIP test/integration/dnsblController.test.ts: ${gate.reason}\n`);

const ZONE = 'zen.test';
const LISTED = '203.0.113.2';
const REASON = 'https://check.spamhaus.org/sbl/query/SBL123';
const name = (ip: string) => dnsblQueryName(ip, ZONE);

/** The zone: mail-1's 203.0.113.2 on SBL (unless delisted), dyn-1's address on PBL only. */
function zone(listed: boolean, port?: number): DnsRecords {
  const a: Record<string, string[]> = { [name('198.51.100.10')]: ['127.0.0.10'] };
  const txt: Record<string, string[]> = { [name('198.51.100.10')]: ['https://check.spamhaus.org/pbl/query/PBL9'] };
  if (listed) {
    a[name(LISTED)] = ['127.0.0.2'];
    txt[name(LISTED)] = [REASON];
  }
  return { a, txt, authoritative: [ZONE], ...(port ? { port } : {}) };
}

/**
 * The DNSBL checks in a real controller, against a real DNS server
 * (dnsmasq) serving a ZEN-like zone, on a real SQLite file: a listed
 * address of a host becomes one own_monitoring complaint and incident, a
 * PBL listing nothing; a restart files nothing again; a delisting is noted
 * on the incident without changing its state; a relisting is filed.
 */
describe.skipIf(!gate.ok)('DNSBL checks in the controller', () => {
  let pki: TestPki;
  let work: string;
  let dns: DnsServer | undefined;
  let controller: Controller | undefined;
  let store: Store | undefined;
  let incidentId: string;

  const start = async () => {
    store = await Store.open(join(work, 'cordon.db'));
    const dnsbl: DnsblTunables = {
      zones: [{ zone: ZONE, codes: { ...ZEN_RETURN_CODES } }],
      resolverServers: [dns!.address],
      timeoutMs: 2_000,
      intervalMs: 86_400_000,
      spreadMs: 0,
      cacheMs: 0,
    };
    controller = await runController(controllerSettings(pki, store, { dnsbl }));
    return controller;
  };
  const stop = async () => {
    await controller?.stop(200);
    await store?.close();
    controller = undefined;
    store = undefined;
  };
  const restartDns = async (listed: boolean) => {
    const { port } = dns!;
    await dns!.stop();
    dns = await startDnsServer({}, zone(listed, port));
  };

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-dnsbl-'));
    dns = await startDnsServer({}, zone(true));
    const s = await Store.open(join(work, 'cordon.db'));
    await s.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await s.hosts.add({ id: 'mail-1', customerId: 'acme', publicPrefixes: ['203.0.113.0/30'], managementAddress: '10.255.0.1' });
    await s.hosts.add({ id: 'dyn-1', customerId: 'acme', publicPrefixes: ['198.51.100.10/32'], managementAddress: '10.255.0.2' });
    await s.hosts.add({ id: 'v6-1', customerId: 'acme', publicPrefixes: ['2001:db8::25/128', '2001:db8:1::/64'], managementAddress: '10.255.0.3' });
    await s.close();
  });
  afterAll(async () => {
    await stop();
    await dns?.stop();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('files a listed address of a host as one own_monitoring complaint and incident, with the reason; PBL files nothing', async () => {
    const c = await start();
    const summary = await c.dnsbl!.checkOnce();
    // 4 addresses of the /30, dyn-1's, v6-1's /128 (its /64 is not enumerated).
    expect(summary).toMatchObject({ pairs: 6, failures: [] });
    const incidents = await c.store.incidents.list();
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({ hostId: 'mail-1', category: 'spam' });
    incidentId = incidents[0]!.id;
    const complaints = await c.store.complaints.listByIncident(incidentId);
    expect(complaints).toHaveLength(1);
    expect(complaints[0]).toMatchObject({ ip: LISTED, reporter: `dnsbl:${ZONE}`, reporterKind: 'own_monitoring', trusted: true, authentication: { via: 'dnsbl', checks: [{ method: 'dns', result: '127.0.0.2', domain: ZONE, detail: REASON }] } });
    expect(complaints[0]!.evidence).toContain(`${LISTED} (server mail-1) is listed on the DNS blocklist ${ZONE}: SBL (code 127.0.0.2).`);
    expect(complaints[0]!.evidence).toContain(`The list's reason: ${REASON}`);
    // Checked again: nothing new.
    await c.dnsbl!.checkOnce();
    expect(await c.store.incidents.list()).toHaveLength(1);
    expect(await c.store.complaints.listByIncident(incidentId)).toHaveLength(1);
  });

  it('files nothing again after a restart on the same SQLite file', async () => {
    await stop();
    const c = await start();
    const summary = await c.dnsbl!.checkOnce();
    expect(summary.listed).toEqual([]);
    expect(await c.store.incidents.list()).toHaveLength(1);
    expect(await c.store.complaints.listByIncident(incidentId)).toHaveLength(1);
  });

  it("notes a delisting on the incident, leaving its state, even one that happened while the controller was down", async () => {
    await stop();
    await restartDns(false);
    const c = await start();
    const before = (await c.store.incidents.get(incidentId))!.state;
    const summary = await c.dnsbl!.checkOnce();
    // The controller's own first check may have noted it already; either way once.
    const notes = (await c.store.events.list(incidentId)).filter((e) => e.type === DNSBL_DELISTED_EVENT);
    expect(notes).toHaveLength(1);
    expect(summary.listed).toEqual([]);
    expect(notes[0]).toMatchObject({ fromState: before, toState: before, actor: `dnsbl:${ZONE}`, detail: { ip: LISTED, zone: ZONE, lists: ['SBL'] } });
    expect((await c.store.incidents.get(incidentId))!.state).toBe(before);
    await c.dnsbl!.checkOnce();
    expect((await c.store.events.list(incidentId)).filter((e) => e.type === DNSBL_DELISTED_EVENT)).toHaveLength(1);
  });

  it('files a relisting after the delisting', async () => {
    await restartDns(true);
    const c = controller!;
    const summary = await c.dnsbl!.checkOnce();
    expect(summary.listed.map((l) => l.ip)).toEqual([LISTED]);
    const all = (await Promise.all((await c.store.incidents.list()).map((i) => c.store.complaints.listByIncident(i.id)))).flat();
    expect(all.filter((x) => x.reporter === `dnsbl:${ZONE}`)).toHaveLength(2);
    expect(all.map((x) => x.messageId).sort()).toEqual([`<dnsbl.1.127.0.0.2.${LISTED}@${ZONE}>`, `<dnsbl.2.127.0.0.2.${LISTED}@${ZONE}>`]);
    expect((await c.store.audit.verify()).ok).toBe(true);
  });
});
