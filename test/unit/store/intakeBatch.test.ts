import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../controller/clock.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import { INGEST_CHUNK, IncidentService } from '../../../controller/services/IncidentService.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { reopenTestStore } from '../../helpers/testStore.js';
import { BLOB_MIN_CHARS } from '../../../controller/store/Blobs.js';
import { fileStore, host, T0 } from './storeFixtures.js';

/** A Shadowserver scan report: `perHost` addresses in each of `hosts` /24s (10.0.<h>.0/24), plus one address that is not ours. */
function shadowserverCsv(hosts: number, perHost: number, day = '01'): Buffer {
  const lines = ['timestamp,ip,protocol,port,hostname,tag,asn,geo,region,city'];
  for (let a = 1; a <= perHost; a++) for (let h = 0; h < hosts; h++) lines.push(`2026-03-${day} 0${a % 10}:00:00,10.0.${h}.${a},udp,1900,,ssdp,64500,NL,NH,"Amsterdam, NL"`);
  lines.push('2026-03-01 00:00:00,192.0.2.99,udp,1900,,ssdp,64500,NL,NH,Amsterdam');
  return Buffer.from(lines.join('\r\n'));
}

async function world(hosts: number) {
  const store = await fileStore();
  await store.hosts.upsertMany(Array.from({ length: hosts }, (_, h) => host(`h${h}`, [`10.0.${h}.0/24`], `cust-${h % 3}`)));
  const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock: new ManualClock(T0), log: silentLogger(), onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
  return { store, service };
}

describe('IncidentService.ingestReport in bulk', () => {
  it('stores every complaint of a large report, durably, once per host and category, with a valid audit chain and the report stored once', async () => {
    const { store, service } = await world(40);
    const csv = shadowserverCsv(40, 30); // 1,201 complaints: more than two chunks
    expect(csv.length).toBeGreaterThan(BLOB_MIN_CHARS);
    const { results } = await service.ingestReport(csv, 'olga', 'scan_ssdp-2026-03-01.csv');
    expect(results.length).toBeGreaterThan(2 * INGEST_CHUNK);
    expect(results.filter((r) => r.outcome === 'opened')).toHaveLength(40);
    expect(results.filter((r) => r.outcome === 'merged')).toHaveLength(40 * 29);
    expect(results.filter((r) => r.outcome === 'rejected').map((r) => r.reason)).toEqual(['192.0.2.99 is not in any of our public prefixes']);
    // Results come back in the report's order, whatever order routing used.
    expect(results[0]!.outcome).toBe('opened');
    expect(results.at(-1)!.outcome).toBe('rejected');

    // A second connection sees it all: it was committed (on SQLite with synchronous=FULL, fsynced) before ingest returned.
    const other = await reopenTestStore(store, store.path);
    try {
      const count = async (sql: string) => (await other.db.get<{ n: number }>(sql))!.n;
      expect(await count('SELECT COUNT(*) AS n FROM complaints')).toBe(results.length);
      expect(await count("SELECT COUNT(*) AS n FROM incidents WHERE state NOT IN ('closed', 'dismissed', 'released')")).toBe(40);
      expect(await count('SELECT MAX(complaint_count) AS n FROM incidents')).toBe(30);
      expect(await count('SELECT COUNT(*) AS n FROM blobs')).toBe(1);
      expect(await other.audit.verify()).toMatchObject({ ok: true });
      const incident = (await other.incidents.list({ hostId: 'h7' }))[0]!;
      const complaints = await other.complaints.listByIncident(incident.id);
      expect(complaints).toHaveLength(30);
      expect(complaints.every((c) => c.raw === csv.toString('utf8'))).toBe(true);
      // Each new incident's notice quotes only the header and the customer's own row: the feed names
      // every other customer's addresses too. The whole report stays with the complaint.
      const mail = (await other.outbox.list()).find((m) => m.incidentId === incident.id && m.kind === 'mail')!;
      const quoted = (mail.payload as { complaint: { raw: string; partial: boolean } }).complaint;
      const lines = csv.toString('utf8').split('\r\n');
      const [header, row, rest] = quoted.raw.split('\r\n');
      expect(quoted.partial).toBe(true);
      expect([header, rest]).toEqual([lines[0], '']);
      expect(lines).toContain(row);
      expect(complaints.map((c) => c.ip)).toContain(row!.split(',')[1]);
      expect(complaints.map((c) => c.excerpt)).toContain(quoted.raw);
      // The events tell each incident's story in order: opened, then one complaint after another. Opening
      // incidents establishes nothing, so however many one report opens, no customer is flagged for review.
      const events = await other.events.list(incident.id);
      expect(events.map((e) => e.type)).toEqual(['open', ...Array(29).fill('complaint')]);
      expect(await count("SELECT COUNT(*) AS n FROM incident_events WHERE type = 'termination_review'")).toBe(0);
    } finally {
      await other.close();
    }
  });

  it("routes the next day's report into the incidents the first one opened; the same report again is recognised as duplicates", async () => {
    const { store, service } = await world(5);
    const first = await service.ingestReport(shadowserverCsv(5, 2), 'olga', 'scan_ssdp.csv');
    const next = await service.ingestReport(shadowserverCsv(5, 2, '02'), 'olga', 'scan_ssdp.csv');
    expect(next.results.filter((r) => r.outcome === 'merged')).toHaveLength(10);
    const again = await service.ingestReport(shadowserverCsv(5, 2), 'olga', 'scan_ssdp.csv');
    expect(again.results.filter((r) => r.outcome === 'duplicate')).toHaveLength(10);
    // Each copy names the complaint it repeats, and its incident, which it did not touch.
    const byIp = new Map(first.results.map((r) => [r.complaintId, r]));
    for (const r of again.results.filter((x) => x.outcome === 'duplicate')) {
      const c = (await store.complaints.get(r.complaintId))!;
      expect(c.status).toBe('duplicate');
      expect(byIp.get(c.duplicateOf!)?.incidentId).toBe(r.incidentId);
    }
    expect((await store.db.get<{ n: number }>('SELECT MAX(complaint_count) AS n FROM incidents'))!.n).toBe(4);
    expect((await store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM incidents'))!.n).toBe(5);
    expect((await store.audit.verify()).ok).toBe(true);
  });

  it('loses nothing when one complaint cannot be routed: its chunk is retried one by one and it is kept for an operator', async () => {
    const { store, service } = await world(10);
    const insert = store.incidents.insert.bind(store.incidents);
    store.incidents.insert = async (incident, nextDueAt) => {
      if (incident.hostId === 'h3') throw new CordonError('invalid', 'h3 is broken');
      return insert(incident, nextDueAt);
    };
    const { results } = await service.ingestReport(shadowserverCsv(10, 3), 'olga', 'scan_ssdp.csv');
    const kept = results.filter((r) => r.outcome === 'needs_info');
    expect(kept).toHaveLength(3); // h3's three addresses
    expect(kept[0]!.reason).toMatch(/could not be routed: h3 is broken/);
    expect(results.filter((r) => r.outcome === 'opened')).toHaveLength(9);
    expect((await store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM complaints'))!.n).toBe(results.length);
    expect((await store.complaints.get(kept[0]!.complaintId))).toMatchObject({ status: 'needs_info', ip: expect.stringMatching(/^10\.0\.3\./) });
    expect(await store.audit.verify()).toMatchObject({ ok: true });
  });
});

describe('what each customer is sent of a report about several networks', () => {
  it("quotes a summary of their own address only when the format cannot cut out their part", async () => {
    const { store, service } = await world(2);
    try {
      const xarf = JSON.stringify({
        Version: '2',
        ReporterInfo: { ReporterOrg: 'Example CERT', ReporterOrgEmail: 'cert@cert.example' },
        Report: { ReportClass: 'Activity', ReportType: 'Spam', Date: '2026-03-01T10:00:00Z', SourceIp: ['10.0.0.5', '10.0.1.5', '192.0.2.99'] },
      });
      const { results } = await service.ingestReport(Buffer.from(xarf), 'olga', 'report.json');
      expect(results.map((r) => r.outcome)).toEqual(['opened', 'opened', 'rejected']);
      for (const [k, mine, others] of [[0, '10.0.0.5', ['10.0.1.5', '192.0.2.99']], [1, '10.0.1.5', ['10.0.0.5', '192.0.2.99']]] as const) {
        const mail = (await store.outbox.list()).find((m) => m.incidentId === results[k]!.incidentId && m.kind === 'mail')!;
        const quoted = (mail.payload as { complaint: { raw: string; partial: boolean } }).complaint;
        expect(quoted.partial).toBe(true);
        expect(quoted.raw).toContain(`Address: ${mine}`);
        expect(quoted.raw).toContain('The report also concerns other addresses; that part is not shown.');
        for (const other of others) expect(quoted.raw).not.toContain(other);
        // The complaint itself keeps the report as received.
        expect((await store.complaints.get(results[k]!.complaintId))!.raw).toBe(xarf);
      }
    } finally {
      await store.close();
    }
  });

  it('sends a single-address report whole', async () => {
    const { store, service } = await world(1);
    try {
      const arf = 'From: fbl@mailbox.example\r\nSubject: spam\r\n\r\nReceived: from [10.0.0.5]\r\n';
      const r = await service.submitComplaint({ ip: '10.0.0.5', category: 'spam', reporter: 'fbl', reporterKind: 'upstream', eventTime: undefined, evidence: '', raw: arf }, 'olga');
      const mail = (await store.outbox.list()).find((m) => m.incidentId === r.incidentId && m.kind === 'mail')!;
      expect((mail.payload as { complaint: { raw: string; partial: boolean } }).complaint).toMatchObject({ raw: arf, partial: false });
    } finally {
      await store.close();
    }
  });
});
