import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Complaint } from '../../../controller/incidents/model.js';
import { T0, at, incident, seededStore } from './storeFixtures.js';

const complaint = (over: Partial<Complaint> = {}): Complaint => ({
  id: 'c-1',
  receivedAt: T0,
  eventTime: undefined,
  ip: '203.0.113.9',
  category: 'spam',
  reporter: 'abuse@upstream.example',
  reporterKind: 'upstream',
  raw: 'plain',
  evidence: '',
  ...over,
});

describe('ComplaintsRepo', () => {
  it('keeps the raw report exactly: CRLF, trailing spaces, tabs, non-ASCII, a base64 blob', async () => {
    const store = await seededStore();
    const blob = randomBytes(3000).toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw =
      'From: "Zoë Müller" <abuse@example.de>\r\nSubject: =?utf-8?q?Spam_von_Ihrem_Server?=\r\n\r\n' +
      'Guten Tag,   \r\n\tdie IP 203.0.113.9 versendet Spam — 日本語 ✉️ 🚨  \r\n' +
      'trailing spaces and a lone CR\r  \n\r\n' +
      `--boundary\r\nContent-Transfer-Encoding: base64\r\n\r\n${blob}\r\n--boundary--\r\n  `;
    await store.complaints.insert(complaint({ raw }), { incidentId: null, status: 'needs_info', reason: 'anonymous' });
    const back = await store.complaints.get('c-1');
    expect(back?.raw).toBe(raw);
    expect(Buffer.from(back!.raw, 'utf8').equals(Buffer.from(raw, 'utf8'))).toBe(true);
    await expect(store.db.run("UPDATE complaints SET raw = 'x' WHERE id = 'c-1'")).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('links complaints to their incident, oldest first, and keeps rejected ones apart with their reason', async () => {
    const store = await seededStore();
    await store.incidents.insert(incident(), undefined);
    await store.complaints.insert(complaint({ id: 'c-2', receivedAt: at(2), eventTime: at(1) }), { incidentId: 'inc-1', status: 'linked' });
    await store.complaints.insert(complaint({ id: 'c-1' }), { incidentId: 'inc-1', status: 'linked' });
    await store.complaints.insert(complaint({ id: 'c-3', ip: '192.0.2.1' }), { incidentId: null, status: 'rejected', reason: 'not ours' });
    const linked = await store.complaints.listByIncident('inc-1');
    expect(linked.map((c) => c.id)).toEqual(['c-1', 'c-2']);
    expect(linked[1]).toMatchObject({ ...complaint({ id: 'c-2', receivedAt: at(2), eventTime: at(1) }), incidentId: 'inc-1', status: 'linked', reason: undefined, trusted: false, duplicateOf: undefined });
    expect(await store.complaints.get('c-3')).toMatchObject({ status: 'rejected', reason: 'not ours', incidentId: undefined });
  });

  it('finds the first complaint kept for an operator that a retry repeats: same Message-ID, reporter and address only', async () => {
    const store = await seededStore();
    const kept = (id: string, over: Partial<Complaint>, status: 'needs_info' | 'rejected' = 'needs_info') =>
      store.complaints.insert(complaint({ id, messageId: '<a1@crowdsec>', reporter: 'crowdsec:edge', ...over }), { incidentId: null, status, reason: 'no category' });
    await kept('c-2', { receivedAt: at(2) });
    await kept('c-1', { receivedAt: at(1) });
    await kept('c-3', { receivedAt: at(0), ip: '203.0.113.10' });
    await kept('c-4', { receivedAt: at(0), reporter: 'crowdsec:other' });
    await kept('c-5', { receivedAt: at(0) }, 'rejected');
    const find = (over: Partial<{ messageId: string; reporter: string; ip: string; trusted: boolean }> = {}) =>
      store.complaints.findNeedsInfoRepeat({ messageId: '<a1@crowdsec>', reporter: 'crowdsec:edge', ip: '203.0.113.9', trusted: false, ...over });
    expect(await find()).toBe('c-1');
    expect(await find({ ip: '203.0.113.10' })).toBe('c-3');
    expect(await find({ reporter: 'crowdsec:other' })).toBe('c-4');
    expect(await find({ messageId: '<a2@crowdsec>' })).toBeUndefined();
    expect(await find({ reporter: 'someone:else' })).toBeUndefined();
    // A trusted (signed) report repeats only a trusted one: an unsigned forgery sent first with its
    // Message-ID and From does not hide it; once a trusted one is kept, its retry repeats that one.
    expect(await find({ trusted: true })).toBeUndefined();
    await kept('c-6', { receivedAt: at(3), trusted: true });
    expect(await find({ trusted: true })).toBe('c-6');
  });

  it('refuses inconsistent links and bad fields, naming them', async () => {
    const store = await seededStore();
    await expect(store.complaints.insert(complaint(), { incidentId: null, status: 'linked' })).rejects.toMatchObject({ kind: 'invalid', field: 'incidentId' });
    await expect(store.complaints.insert(complaint(), { incidentId: 'inc-1', status: 'rejected', reason: 'x' })).rejects.toMatchObject({
      field: 'incidentId',
    });
    await expect(store.complaints.insert(complaint(), { incidentId: null, status: 'rejected' })).rejects.toMatchObject({ field: 'reason' });
    await expect(store.complaints.insert(complaint(), { incidentId: 'inc-9', status: 'linked' })).rejects.toMatchObject({ kind: 'not_found' });
    await expect(store.complaints.insert(complaint({ receivedAt: new Date('nope') }), { incidentId: null, status: 'needs_info', reason: 'r' })).rejects.toMatchObject({
      field: 'receivedAt',
    });
    await store.complaints.insert(complaint(), { incidentId: null, status: 'needs_info', reason: 'r' });
    await expect(store.complaints.insert(complaint(), { incidentId: null, status: 'needs_info', reason: 'r' })).rejects.toMatchObject({ kind: 'conflict' });
  });
});
