import { describe, expect, it } from 'vitest';
import { DNSBL_DELISTED, DNSBL_FILED, foldDnsblFilings, pairKey } from '../../../controller/monitoring/dnsbl/foldDnsblFilings.js';

const filed = (episode: number, codes: string[], complaint: string, checkedAt: string) => ({
  action: DNSBL_FILED,
  detail: { zone: 'zen.test', ip: '203.0.113.2', host: 'mail-1', episode, codes, lists: ['SBL'], checkedAt, complaint, incident: `inc-${complaint}`, outcome: 'opened' },
});
const delisted = (episode: number, checkedAt: string) => ({ action: DNSBL_DELISTED, detail: { zone: 'zen.test', ip: '203.0.113.2', episode, checkedAt } });

describe('foldDnsblFilings: what was filed, from the audit log', () => {
  it('adds codes within an episode, ends it at its delisting, and starts the next at a new filing', () => {
    const key = pairKey('zen.test', '203.0.113.2');
    const one = foldDnsblFilings([filed(1, ['127.0.0.2'], 'c1', '2026-03-01T00:00:00.000Z'), filed(1, ['127.0.0.4'], 'c2', '2026-03-02T00:00:00.000Z')]).get(key)!;
    expect(one).toMatchObject({ hostId: 'mail-1', episode: 1, codes: ['127.0.0.2', '127.0.0.4'], since: new Date('2026-03-01T00:00:00.000Z'), delistedAt: undefined });
    expect(one.complaints).toEqual([{ complaintId: 'c1', incidentId: 'inc-c1' }, { complaintId: 'c2', incidentId: 'inc-c2' }]);

    const ended = foldDnsblFilings([filed(1, ['127.0.0.2'], 'c1', '2026-03-01T00:00:00.000Z'), delisted(1, '2026-03-03T00:00:00.000Z')]).get(key)!;
    expect(ended).toMatchObject({ episode: 1, delistedAt: new Date('2026-03-03T00:00:00.000Z') });

    const again = foldDnsblFilings([filed(1, ['127.0.0.2'], 'c1', '2026-03-01T00:00:00.000Z'), delisted(1, '2026-03-03T00:00:00.000Z'), filed(2, ['127.0.0.2'], 'c3', '2026-03-04T00:00:00.000Z')]).get(key)!;
    expect(again).toMatchObject({ episode: 2, codes: ['127.0.0.2'], delistedAt: undefined, complaints: [{ complaintId: 'c3', incidentId: 'inc-c3' }] });
  });

  it("ignores a delisting of another episode, and entries it cannot read", () => {
    const state = foldDnsblFilings([filed(1, ['127.0.0.2'], 'c1', '2026-03-01T00:00:00.000Z'), delisted(7, '2026-03-03T00:00:00.000Z'), { action: DNSBL_FILED, detail: null }, { action: DNSBL_FILED, detail: { zone: 1 } }]);
    expect(state.size).toBe(1);
    expect([...state.values()][0]!.delistedAt).toBeUndefined();
  });
});
