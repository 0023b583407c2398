import { describe, expect, it } from 'vitest';
import { describeListing } from '../../../controller/monitoring/dnsbl/describeListing.js';
import { validateDnsblZone } from '../../../controller/monitoring/dnsbl/DnsblZone.js';
import type { Listing } from '../../../controller/monitoring/dnsbl/Listing.js';

const ZEN = validateDnsblZone({ zone: 'zen.spamhaus.org' }, 'zone');
const T = new Date('2026-03-01T12:00:00.000Z');
const listing = (over: Partial<Listing> = {}): Listing => ({
  hostId: 'mail-1',
  ip: '203.0.113.2',
  zone: 'zen.spamhaus.org',
  codes: ['127.0.0.2', '127.0.0.4'],
  newCodes: ['127.0.0.2', '127.0.0.4'],
  lists: ['SBL', 'XBL'],
  category: 'spam',
  categories: ['spam', 'botnet'],
  reasons: ['https://check.spamhaus.org/sbl/query/SBL1'],
  checkedAt: T,
  firstAnswer: true,
  ...over,
});

describe('describeListing: the evidence the customer reads', () => {
  it('names the address, the zone, each list with its code, the reason, what it means and how to get off the list', () => {
    expect(describeListing(listing(), ZEN)).toBe(
      [
        '203.0.113.2 (server mail-1) is listed on the DNS blocklist zen.spamhaus.org: SBL (code 127.0.0.2), XBL (code 127.0.0.4).',
        "The list's reason: https://check.spamhaus.org/sbl/query/SBL1",
        "Seen by Cordon's own check of our addresses at 2026-03-01T12:00:00.000Z (a DNS query to zen.spamhaus.org).",
        'Mail servers that use this list may refuse mail from this address while it is listed.',
        'To see why and to ask for removal: look the address up at https://check.spamhaus.org/ (Spamhaus), once the cause is fixed (a list usually lists an address again while its cause remains).',
      ].join('\n'),
    );
  });

  it('says which list is new when only part of the listing is filed, and names PBL as a policy listing', () => {
    const text = describeListing(listing({ codes: ['127.0.0.2', '127.0.0.4', '127.0.0.10'], newCodes: ['127.0.0.4'] }), ZEN, ['127.0.0.4']);
    expect(text).toContain('New since the listing was first reported: XBL (code 127.0.0.4).');
    expect(text).toContain('Also on PBL (code 127.0.0.10): a policy listing of the address range, not part of this complaint.');
    expect(text).not.toMatch(/SBL \(code 127\.0\.0\.2\), XBL \(code 127\.0\.0\.4\), PBL/);
  });

  it("says a code is not in the zone's table and that it is filed as other; points elsewhere than Spamhaus for another zone", () => {
    const other = validateDnsblZone({ zone: 'bl.example.net' }, 'zone');
    const text = describeListing(listing({ zone: 'bl.example.net', codes: ['127.0.0.99'], newCodes: ['127.0.0.99'], lists: ['bl.example.net'], category: 'unknown', reasons: [] }), other);
    expect(text).toContain('is listed on the DNS blocklist bl.example.net: bl.example.net (code 127.0.0.99).');
    expect(text).toContain('Code 127.0.0.99 is not in Cordon\'s table for bl.example.net, so the complaint is filed as category "other"');
    expect(text).toContain('the removal procedure on the website of the list that runs bl.example.net');
    expect(text).not.toContain("The list's reason");
  });

  it("keeps a list's reason to one bounded line", () => {
    const text = describeListing(listing({ reasons: [`evil\r\nInjected: header ${'x'.repeat(400)}`, 'b', 'c', 'd', 'e'] }), ZEN);
    const first = text.split('\n').find((l) => l.startsWith("The list's reason: evil"))!;
    expect(first).toMatch(/^The list's reason: evil Injected: header x+…$/);
    expect(first.length).toBeLessThan(330);
    expect(text).toContain('(1 more reasons not shown.)');
  });
});
