import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainTextParser } from '../../../controller/intake/formats/plainText.js';
import { categoryFromKeywords } from '../../../controller/intake/formats/plainTextRules.js';
import { readMessage } from '../../../controller/intake/readMessage.js';
import type { ParsedMessage } from '../../../controller/intake/types.js';
import { SHARED_REPORTS, type ExpectedFixture } from '../../helpers/intakeFixtures.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/intake/plain/', import.meta.url));
const DEV = SHARED_REPORTS;

type Expected = ExpectedFixture;

async function parseFile(path: string) {
  return plainTextParser.parse(await readMessage(readFileSync(path)));
}

function textMessage(text: string, subject = ''): ParsedMessage {
  return { headers: new Map(), from: 'someone@example.org', date: new Date('2024-01-01T00:00:00Z'), subject, text, parts: [], raw: Buffer.from(text) };
}

describe.each(readdirSync(FIXTURES))('plain fixture %s', (name) => {
  it('reads the expected offender and none of the traps', async () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
    const found = await parseFile(join(FIXTURES, name, 'message.eml'));
    expect(found).toBeDefined(); // a text message is this format; [] means "needs an operator"
    expect(found?.map((c) => c.ip)).toEqual(expected.ip);
    if (expected.category !== null) expect(found?.map((c) => c.category)).toEqual(expected.ip.map(() => expected.category));
    expect(found?.[0]?.eventTime?.toISOString() ?? null).toBe(expected.eventTime);
    expect(found?.every((c) => c.reporterKind === expected.reporterKind && c.format === 'plain')).toBe(true);
    for (const trap of expected.traps) expect(found?.map((c) => c.ip)).not.toContain(trap);
  });
});

describe('plain text rules', () => {
  it.each([
    ['Offending IP: 192.0.2.5', ['192.0.2.5']],
    ['  - Source IP: 192.0.2.5:443', ['192.0.2.5']],
    ['IP address: [2001:db8::7]', ['2001:db8::7']],
    ['Attacker IP: 192.0.2.5/32\nAttacker IP: 192.0.2.6', ['192.0.2.5', '192.0.2.6']],
    ['Source IP: 198.51.100.0/24', []],
    ['Destination IP: 192.0.2.5\nVictim IP: 192.0.2.6\nTarget: 192.0.2.7', []],
    ['We saw 192.0.2.5 hammering 198.51.100.1', []],
    ['Source IP: 999.1.2.3', []],
    ['Source IP: 192.0.2.9\n-----Original Message-----\nOffending IP: 192.0.2.10', ['192.0.2.9']],
  ])('%j → %j', (text, ips) => {
    expect(plainTextParser.parse(textMessage(text))?.map((c) => c.ip)).toEqual(ips);
  });

  it('takes the time labelled after each offender, else none (parseReport then marks the mail Date as receipt)', () => {
    const found = plainTextParser.parse(textMessage('Offending IP: 192.0.2.1\nTime: 2024-02-03 04:05:06\n\nOffending IP: 192.0.2.2\nTime: 2024-02-04T00:00:00Z\n')) ?? [];
    expect(found.map((c) => c.eventTime?.toISOString())).toEqual(['2024-02-03T04:05:06.000Z', '2024-02-04T00:00:00.000Z']);
    expect(plainTextParser.parse(textMessage('Source IP: 192.0.2.1'))?.[0]?.eventTime).toBeUndefined();
  });

  it.each([
    ['DMCA notice for a torrent', 'copyright'],
    ['Phishing page hosted', 'phishing'],
    ['wp-login.php attacks by botnets', 'brute_force'],
    ['DDoS against our site', 'ddos'],
    ['host distributes malware', 'malware'],
    ['open proxy relaying spam', 'spam'],
    ['port scan detected', 'scan'],
    ['hello', 'other'],
  ])('%j → %s', (text, category) => expect(categoryFromKeywords(text)).toBe(category));

  it('answers undefined for a message without text', () => {
    expect(plainTextParser.parse(textMessage(''))).toBeUndefined();
  });

  it('never throws on garbage', async () => {
    const textish = fc.string({ unit: fc.constantFrom('Source IP:', 'Email from ', ' / ', 'Time:', '192.0.2.1', '::', '[ SpamCop V', '\n', ' ', '-', 'x', '2024-01-01 00:00') });
    await fc.assert(
      fc.asyncProperty(textish, fc.uint8Array({ maxLength: 500 }), async (text, bytes) => {
        expect(() => plainTextParser.parse(textMessage(text, text))).not.toThrow();
        plainTextParser.parse(await readMessage(Buffer.concat([Buffer.from(text), Buffer.from(bytes)])));
      }),
      { numRuns: 150 },
    );
  });
});

describe.skipIf(!existsSync(DEV))('plain real samples (INDEX.md)', () => {
  it('dev-07: SpamCop "Email from" offender, not the Received chain, client or MX', async () => {
    const found = (await parseFile(join(DEV, 'dev-07-spamcop-openproxy-2003.eml'))) ?? [];
    expect(found.map((c) => c.ip)).toEqual(['10.0.0.1']);
    expect(found[0]).toMatchObject({ category: 'spam', reporterKind: 'individual', reporter: '999999999@reports.spamcop.net' });
    expect(found[0]?.eventTime?.toISOString()).toBe('2003-06-19T21:34:13.000Z');
    expect(found[0]?.evidence).toBe('http://www.spamcop.net/w3m?i=z999999999z447a5c6f3a3165ce1c28ecfdbb4e010ez');
  });

  it('dev-08: Webiron labelled IPv6 offender, wp-login brute force, not the targeted range', async () => {
    const found = (await parseFile(join(DEV, 'dev-08-webiron-wplogin-bruteforce-ipv6.eml'))) ?? [];
    expect(found.map((c) => c.ip)).toEqual(['fdf1:cb9d:f59e:19b0:0:3:4:2']);
    expect(found[0]).toMatchObject({ category: 'brute_force', reporterKind: 'individual' });
    expect(found[0]?.eventTime?.toISOString()).toBe('2015-09-26T05:14:33.000Z');
    expect(found[0]?.evidence).toContain('c141a958-6477-466b-8fec-235a460a5fa7');
  });
});
if (!existsSync(DEV)) console.log(`plain: real samples skipped, ${DEV} is absent`);
