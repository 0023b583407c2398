import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acnsParser } from '../../../controller/intake/formats/acns.js';
import { infringementBlocks, undoDashEscaping } from '../../../controller/intake/formats/acnsExtract.js';
import { readMessage } from '../../../controller/intake/readMessage.js';
import { SHARED_REPORTS, type ExpectedFixture } from '../../helpers/intakeFixtures.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/intake/acns/', import.meta.url));
const DEV = SHARED_REPORTS;

type Expected = ExpectedFixture;

async function parseFile(path: string) {
  return acnsParser.parse(await readMessage(readFileSync(path)));
}

describe.each(readdirSync(FIXTURES))('acns fixture %s', (name) => {
  it('reads the expected offender and none of the traps', async () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
    const found = (await parseFile(join(FIXTURES, name, 'message.eml'))) ?? [];
    expect(found.map((c) => c.ip)).toEqual(expected.ip);
    expect(found.map((c) => c.category)).toEqual(expected.ip.map(() => expected.category));
    expect(found[0]?.eventTime?.toISOString()).toBe(expected.eventTime);
    expect(found.every((c) => c.reporterKind === expected.reporterKind && c.format === 'acns')).toBe(true);
    for (const trap of expected.traps) expect(found.map((c) => c.ip)).not.toContain(trap);
  });
});

describe('acns details', () => {
  it('undoes PGP dash-escaping inside the inline XML (RFC 4880 §7.1)', async () => {
    const [c] = (await parseFile(join(FIXTURES, 'pgp-inline', 'message.eml'))) ?? [];
    expect(c?.evidence).toBe('ACNS case CN-2024-0042, "--Dash Runner--", BITTORRENT port 51413');
    expect(c?.reporter).toBe('Example Pictures Ltd. <notices@rights.example>');
  });

  it('reads the attached XML (entities decoded)', async () => {
    const [c] = (await parseFile(join(FIXTURES, 'attachment', 'message.eml'))) ?? [];
    expect(c?.evidence).toBe('ACNS case 77001, "Synthetic Song & Dance", BITTORRENT port 6881');
  });

  it('reads a bare XML file', async () => {
    const xml = readFileSync(join(FIXTURES, 'attachment', 'message.eml'), 'utf8');
    const b64 = xml.split('Content-Transfer-Encoding: base64')[1]!.split('--b-acns-b--')[0]!;
    const found = acnsParser.parse(await readMessage(Buffer.from(b64.replace(/\s/g, ''), 'base64')));
    expect(found?.map((c) => c.ip)).toEqual(['2001:db8:abcd::17']);
  });

  it('only strips "- " inside the signed text', () => {
    const text = '- outside\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA1\n\n- -dashed\n- plain\nkept\n-----BEGIN PGP SIGNATURE-----\n- sig';
    expect(undoDashEscaping(text)).toBe('- outside\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA1\n\n-dashed\nplain\nkept\n-----BEGIN PGP SIGNATURE-----\n- sig');
  });

  it('finds prefixed and repeated Infringement elements', () => {
    expect(infringementBlocks('x <a:Infringement xmlns:a="u">1</a:Infringement> y <Infringement>2</Infringement>')).toHaveLength(2);
  });

  it('answers [] for a notice without a readable Source/IP_Address, undefined for other XML', async () => {
    const bad = '<Infringement xmlns="http://www.acns.net/ACNS"><Source><IP_Address>999.1.1.1</IP_Address></Source></Infringement>';
    expect(acnsParser.parse(await readMessage(Buffer.from(bad)))).toEqual([]);
    expect(acnsParser.parse(await readMessage(Buffer.from('<Report><Source>x</Source></Report>')))).toBeUndefined();
  });

  it('never throws on garbage', async () => {
    const xmlish = fc.string({ unit: fc.constantFrom('<', '>', '/', 'Infringement', 'Source', 'IP_Address', '192.0.2.1', '&', '"', ' ', '\n', '- ', '-----BEGIN PGP SIGNED MESSAGE-----') });
    await fc.assert(
      fc.asyncProperty(xmlish, fc.uint8Array({ maxLength: 500 }), async (text, bytes) => {
        const raw = Buffer.concat([Buffer.from(text), Buffer.from(bytes)]);
        expect(() => acnsParser.parse({ headers: new Map(), from: undefined, date: undefined, subject: '', text, parts: [{ contentType: 'application/xml', filename: 'x.xml', content: raw }], raw })).not.toThrow();
        acnsParser.parse(await readMessage(raw));
      }),
      { numRuns: 150 },
    );
  });
});

describe.skipIf(!existsSync(DEV))('acns real sample (INDEX.md)', () => {
  it('dev-04: one complaint for 192.168.3.2, not the IP-Echelon MX', async () => {
    const found = (await parseFile(join(DEV, 'dev-04-acns-ipechelon-bittorrent.eml'))) ?? [];
    expect(found.map((c) => c.ip)).toEqual(['192.168.3.2']);
    expect(found[0]).toMatchObject({ category: 'copyright', reporterKind: 'rights_holder', reporter: 'Warner Bros. Entertainment Inc. <copyright@ip-echelon.com>' });
    expect(found[0]?.eventTime?.toISOString()).toBe('2015-11-27T11:58:43.000Z');
    expect(found[0]?.evidence).toBe('ACNS case 324415991, "Black Mass", BITTORRENT port 50321');
  });

  it('declines the other samples', async () => {
    for (const f of ['dev-05-shadowserver-scan_ssdp-email-zip.eml', 'dev-06-shadowserver-event4_honeypot_darknet.csv', 'dev-07-spamcop-openproxy-2003.eml', 'dev-08-webiron-wplogin-bruteforce-ipv6.eml']) {
      expect(await parseFile(join(DEV, f))).toBeUndefined();
    }
  });
});
if (!existsSync(DEV)) console.log(`acns: real samples skipped, ${DEV} is absent`);
