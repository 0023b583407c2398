import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../controller/clock.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { DNSBL_DELISTED_EVENT, DnsblIntake } from '../../../controller/monitoring/DnsblIntake.js';
import { validateDnsblZones } from '../../../controller/monitoring/dnsbl/DnsblZone.js';
import type { Listing } from '../../../controller/monitoring/dnsbl/Listing.js';
import { IncidentService, type ComplaintInput } from '../../../controller/services/IncidentService.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import { seededStore, T0 } from '../store/storeFixtures.js';

const ZONES = validateDnsblZones([{ zone: 'zen.spamhaus.org' }, { zone: 'bl.example.net' }]);
const listing = (over: Partial<Listing> = {}): Listing => ({
  hostId: 'web-01',
  ip: '203.0.113.2',
  zone: 'zen.spamhaus.org',
  codes: ['127.0.0.2'],
  newCodes: ['127.0.0.2'],
  lists: ['SBL'],
  category: 'spam',
  categories: ['spam'],
  reasons: ['https://check.spamhaus.org/sbl/query/SBL1'],
  checkedAt: T0,
  firstAnswer: true,
  ...over,
});

async function setup(trusted = true) {
  const store = await seededStore();
  await store.customers.upsert({ id: 'cust-1', name: 'ACME', email: 'ops@acme.example' });
  const clock = new ManualClock(T0);
  const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock, log: silentLogger(), onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
  const make = (submit = (input: ComplaintInput, actor: string) => service.submitComplaint(input, actor)) =>
    new DnsblIntake({ store, submit, trusted, zones: ZONES, clock: () => clock.now(), log: silentLogger() });
  return { store, clock, service, intake: make(), make };
}

describe('DnsblIntake: a listing becomes a complaint from own monitoring', () => {
  it('files it once, with the zone as reporter, a dns check, the reason in the evidence, and records it', async () => {
    const { store, intake } = await setup();
    const r = (await intake.onListed(listing()))!;
    expect(r).toMatchObject({ outcome: 'opened', trusted: true });
    const c = (await store.complaints.get(r.complaintId))!;
    expect(c).toMatchObject({ ip: '203.0.113.2', category: 'spam', reporter: 'dnsbl:zen.spamhaus.org', reporterKind: 'own_monitoring', trusted: true, eventTime: T0, messageId: '<dnsbl.1.127.0.0.2.203.0.113.2@zen.spamhaus.org>' });
    expect(c.authentication).toEqual({
      trusted: true,
      via: 'dnsbl',
      reporterKind: 'own_monitoring',
      reason: 'listed on zen.spamhaus.org (SBL) when Cordon asked about 203.0.113.2',
      checks: [{ method: 'dns', result: '127.0.0.2', domain: 'zen.spamhaus.org', detail: 'https://check.spamhaus.org/sbl/query/SBL1' }],
    });
    expect(c.excerpt).toMatch(/^203\.0\.113\.2 \(server web-01\) is listed on the DNS blocklist zen\.spamhaus\.org: SBL \(code 127\.0\.0\.2\)\.\nThe list's reason: https:\/\/check\.spamhaus\.org\/sbl\/query\/SBL1/);
    expect(await intake.reported()).toEqual([{ zone: 'zen.spamhaus.org', ip: '203.0.113.2', codes: ['127.0.0.2'], lists: ['SBL'], since: T0 }]);
    // The same listing again (a restart's first answer): nothing filed.
    expect(await intake.onListed(listing())).toBeUndefined();
    expect(await store.complaints.listByIncident(r.incidentId!)).toHaveLength(1);
  });

  it('files a list added to a standing listing, for its code only', async () => {
    const { store, intake } = await setup();
    const first = (await intake.onListed(listing()))!;
    const more = (await intake.onListed(listing({ codes: ['127.0.0.2', '127.0.0.4'], newCodes: ['127.0.0.4'], lists: ['SBL', 'XBL'], category: 'spam', categories: ['spam', 'botnet'], firstAnswer: false })))!;
    expect(more.outcome).toBe('opened');
    const c = (await store.complaints.get(more.complaintId))!;
    expect(c).toMatchObject({ category: 'botnet', messageId: '<dnsbl.1.127.0.0.4.203.0.113.2@zen.spamhaus.org>' });
    expect(c.evidence).toContain('New since the listing was first reported: XBL (code 127.0.0.4).');
    expect(more.incidentId).not.toBe(first.incidentId);
    expect((await intake.reported())[0]!.codes).toEqual(['127.0.0.2', '127.0.0.4']);
  });

  it('files a code the zone does not know as "other", untrusted when the policy does not trust own_monitoring', async () => {
    const { store, intake } = await setup(false);
    const r = (await intake.onListed(listing({ zone: 'bl.example.net', codes: ['127.0.0.7'], newCodes: ['127.0.0.7'], lists: ['bl.example.net'], category: 'unknown', categories: ['unknown'], reasons: [] })))!;
    const c = (await store.complaints.get(r.complaintId))!;
    expect(c).toMatchObject({ category: 'other', trusted: false, reporter: 'dnsbl:bl.example.net' });
    expect(c.evidence).toContain('Code 127.0.0.7 is not in Cordon\'s table for bl.example.net, so the complaint is filed as category "other"');
    expect(c.authentication).toMatchObject({ trusted: false, reason: expect.stringMatching(/a kind the policy does not trust$/), checks: [{ detail: 'no reason given (no TXT record)' }] });
  });

  it('makes a filing repeated after a stop between filing and recording a duplicate, which changes nothing', async () => {
    const { store, service, intake, make } = await setup();
    const crashing = make(async (input, actor) => {
      await service.submitComplaint(input, actor);
      throw new Error('stopped before recording');
    });
    await expect(crashing.onListed(listing())).rejects.toThrow(/stopped before recording/);
    const [opened] = await store.incidents.list();
    const before = opened!;
    const again = (await intake.onListed(listing()))!;
    expect(again).toMatchObject({ outcome: 'duplicate', incidentId: before.id });
    expect(await store.incidents.list()).toHaveLength(1);
    expect((await store.incidents.get(before.id))!.state).toBe(before.state);
    expect(await intake.onListed(listing())).toBeUndefined();
  });
});

describe('DnsblIntake: a delisting is noted on the incident', () => {
  it("notes it once, leaves the incident's state as it was, and files a relisting as a new episode", async () => {
    const { store, clock, intake } = await setup();
    const r = (await intake.onListed(listing()))!;
    const state = (await store.incidents.get(r.incidentId!))!.state;
    clock.advance(3_600_000);
    const gone = { hostId: 'web-01', ip: '203.0.113.2', zone: 'zen.spamhaus.org', codes: ['127.0.0.2'], lists: ['SBL'], listedSince: T0, checkedAt: clock.now() };
    await intake.onDelisted(gone);
    await intake.onDelisted(gone);
    const notes = (await store.events.list(r.incidentId!)).filter((e) => e.type === DNSBL_DELISTED_EVENT);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ fromState: state, toState: state, actor: 'dnsbl:zen.spamhaus.org', detail: { ip: '203.0.113.2', zone: 'zen.spamhaus.org', lists: ['SBL'], complaints: [r.complaintId] } });
    expect((notes[0]!.detail as { note: string }).note).toMatch(/^203\.0\.113\.2 is no longer listed on zen\.spamhaus\.org \(SBL\) as of .*the incident's state is unchanged/);
    expect((await store.incidents.get(r.incidentId!))!.state).toBe(state);
    expect(await intake.reported()).toEqual([]);

    clock.advance(3_600_000);
    const relisted = (await intake.onListed(listing({ checkedAt: clock.now(), firstAnswer: false })))!;
    expect(relisted).toMatchObject({ outcome: 'merged', incidentId: r.incidentId });
    expect((await store.complaints.get(relisted.complaintId))!.messageId).toBe('<dnsbl.2.127.0.0.2.203.0.113.2@zen.spamhaus.org>');
  });
});
