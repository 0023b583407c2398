import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shadowserverParser } from '../../../controller/intake/formats/shadowserver.js';
import { categoryOf, reportTypeFromFilename, reportTypeFromSubject } from '../../../controller/intake/formats/shadowserverReportType.js';
import { readMessage } from '../../../controller/intake/readMessage.js';
import { SHARED_REPORTS, type ExpectedFixture } from '../../helpers/intakeFixtures.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/intake/shadowserver/', import.meta.url));
const DEV = SHARED_REPORTS;

type Expected = ExpectedFixture;

async function parseFile(path: string) {
  return shadowserverParser.parse(await readMessage(readFileSync(path)));
}

describe.each(readdirSync(FIXTURES))('shadowserver fixture %s', (name) => {
  it('reads the expected offenders and none of the traps', async () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
    const found = (await parseFile(join(FIXTURES, name, 'message.eml'))) ?? [];
    expect(found.map((c) => c.ip)).toEqual(expected.ip);
    expect(new Set(found.map((c) => c.category))).toEqual(new Set([expected.category]));
    expect(found[0]?.eventTime?.toISOString()).toBe(expected.eventTime);
    expect(found.every((c) => c.reporterKind === expected.reporterKind && c.format === 'shadowserver-csv')).toBe(true);
    for (const trap of expected.traps) expect(found.map((c) => c.ip)).not.toContain(trap);
  });
});

describe.skipIf(!existsSync(DEV))('shadowserver real samples (INDEX.md)', () => {
  it('dev-05: zipped scan_ssdp CSV, nine open SSDP services, no location URLs', async () => {
    const found = (await parseFile(join(DEV, 'dev-05-shadowserver-scan_ssdp-email-zip.eml'))) ?? [];
    expect(found.map((c) => c.ip)).toEqual(['67.193.128.173', '24.35.243.77', '65.25.192.8', '209.197.143.187', '76.11.218.168', '74.210.207.51', '76.166.127.141', '1.62.9.118', '183.104.67.106']);
    expect(found.every((c) => c.category === 'open_service')).toBe(true);
    expect(found[0]?.eventTime?.toISOString()).toBe('2014-03-16T08:14:59.000Z');
    expect(found[8]?.eventTime?.toISOString()).toBe('2014-03-16T08:15:00.000Z');
    expect(found[0]?.reporter).toContain('autoreports@shadowserver.org');
    expect(found[1]?.evidence).toContain('port=32853');
  });

  it('dev-06: bare event4_honeypot_darknet CSV, src_ip offenders, mirai → botnet', async () => {
    const found = (await parseFile(join(DEV, 'dev-06-shadowserver-event4_honeypot_darknet.csv'))) ?? [];
    expect(found.map((c) => c.ip)).toEqual(['61.3.1.2', '211.218.3.4', '45.225.5.6', '125.122.7.8', '219.77.9.10', '24.137.11.12', '119.182.13.14', '27.198.15.16']);
    expect(found.every((c) => c.category === 'botnet' && c.eventTime?.toISOString() === '2021-03-07T00:00:00.000Z')).toBe(true);
    expect(found[0]?.reporter).toBe('Shadowserver Foundation');
    expect(found[4]?.evidence).toContain('dst_port=5555');
  });

  it('declines the other samples', async () => {
    for (const f of ['dev-04-acns-ipechelon-bittorrent.eml', 'dev-07-spamcop-openproxy-2003.eml', 'dev-08-webiron-wplogin-bruteforce-ipv6.eml']) {
      expect(await parseFile(join(DEV, f))).toBeUndefined();
    }
  });
});
if (!existsSync(DEV)) console.log(`shadowserver: real samples skipped, ${DEV} is absent`);

describe('shadowserver report type and category', () => {
  it.each([
    ['2015-01-01-scan_ssdp-sample-asn.csv.zip', 'scan_ssdp'],
    ['2021-03-07-event4_honeypot_darknet-asn-region.csv', 'event4_honeypot_darknet'],
    ['event4_honeypot_darknet.csv', 'event4_honeypot_darknet'],
    ['report.csv', undefined],
  ])('type of %s', (filename, type) => expect(reportTypeFromFilename(filename)).toBe(type));

  it('reads the type from a subject', () => {
    expect(reportTypeFromSubject('[SAMPLE] Shadowserver scan_ssdp-sample Report: 2015-01-01')).toBe('scan_ssdp');
  });

  it.each([
    ['scan_ntp', '', '', 'open_service'],
    ['event4_honeypot_brute_force', '', 'ssh-brute-force', 'brute_force'],
    ['event4_honeypot_darknet', 'mirai', 'mirai', 'botnet'],
    ['event4_honeypot_darknet', '', '', 'scan'],
    ['botnet_drone', '', '', 'botnet'],
    ['compromised_website', '', '', 'malware'],
    ['event4_ddos_participant', '', '', 'ddos'],
    [undefined, '', '', 'scan'],
  ])('%s (infection %j, tag %j) → %s', (type, infection, tag, category) => {
    expect(categoryOf(type, infection, tag)).toBe(category);
  });

  it('answers [] for a Shadowserver CSV without a readable offender, undefined for other CSV', async () => {
    const noOffender = Buffer.from('"timestamp","src_ip","dst_ip"\n"2024-01-01 00:00:00","","192.0.2.1"\n');
    expect(shadowserverParser.parse(await readMessage(noOffender, '2024-01-01-event4_honeypot_darknet-asn.csv'))).toEqual([]);
    expect(shadowserverParser.parse(await readMessage(Buffer.from('name,value\nx,1\n')))).toBeUndefined();
  });

  it('leaves a CSV that nothing names Shadowserver\'s to the generic feed reader', async () => {
    const csv = Buffer.from('"asn","ip","timestamp","malware"\n"64500","192.0.2.1","2020-08-11 22:53:53","andromeda"\n');
    expect(shadowserverParser.parse(await readMessage(csv))).toBeUndefined();
    expect(shadowserverParser.parse(await readMessage(csv, 'abuse_report.csv'))).toBeUndefined();
    // Named by its file, its subject or its own columns, it is Shadowserver's.
    expect(shadowserverParser.parse(await readMessage(csv, '2020-08-11-botnet_drone-asn.csv'))?.map((c) => c.ip)).toEqual(['192.0.2.1']);
    expect(shadowserverParser.parse(await readMessage(Buffer.from('timestamp,ip,naics\n2020-08-11 22:53:53,192.0.2.1,518210\n')))?.map((c) => c.ip)).toEqual(['192.0.2.1']);
  });

  it('never throws on garbage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.string(), async (bytes, prefix) => {
        const raw = Buffer.concat([Buffer.from(prefix), Buffer.from(bytes)]);
        expect(() => shadowserverParser.parse({ headers: new Map(), from: undefined, date: undefined, subject: prefix, text: '', parts: [{ contentType: 'application/zip', filename: 'x.csv.zip', content: raw }, { contentType: 'text/csv', filename: undefined, content: Buffer.from(`timestamp,ip\n${prefix}`) }], raw })).not.toThrow();
        shadowserverParser.parse(await readMessage(raw));
      }),
      { numRuns: 100 },
    );
  });
});
