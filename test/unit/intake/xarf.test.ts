import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arfParser } from '../../../controller/intake/formats/arf.js';
import { xarfParser } from '../../../controller/intake/formats/xarf.js';
import { parseReportInProcess } from '../../../controller/intake/parseReport.js';
import { readMessage } from '../../../controller/intake/readMessage.js';
import type { ParsedMessage } from '../../../controller/intake/types.js';
import { SHARED_REPORTS, type ExpectedFixture } from '../../helpers/intakeFixtures.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/intake/xarf');
const ARF_FIXTURES = join(import.meta.dirname, '../../fixtures/intake/arf');
const REAL = SHARED_REPORTS;

type Expected = ExpectedFixture;

async function read(path: string): Promise<ParsedMessage> {
  return readMessage(readFileSync(path));
}

function yamlMail(report: string, headers = 'X-ARF: YES\r\n'): Buffer {
  return Buffer.from(
    `From: IDS <ids@ids.example>\r\nTo: abuse@cordon-hosting.example\r\nDate: Mon, 10 Feb 2025 08:20:00 +0100\r\nSubject: report\r\n${headers}` +
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello.\r\n' +
      `--b\r\nContent-Type: text/plain; name="report.txt"\r\n\r\n${report}\r\n--b--\r\n`,
  );
}

function bare(json: string): Promise<ParsedMessage> {
  return readMessage(Buffer.from(json));
}

describe('xarfParser on Cordon fixtures', () => {
  for (const dir of readdirSync(FIXTURES)) {
    it(dir, async () => {
      const expected = JSON.parse(readFileSync(join(FIXTURES, dir, 'expected.json'), 'utf8')) as Expected;
      const file = readdirSync(join(FIXTURES, dir)).find((f) => f !== 'expected.json')!;
      const complaints = xarfParser.parse(await read(join(FIXTURES, dir, file)));
      expect(complaints?.map((c) => c.ip)).toEqual(expected.ip);
      for (const c of complaints ?? []) {
        expect(c.category).toBe(expected.category);
        expect(c.eventTime?.toISOString()).toBe(expected.eventTime);
        expect(c.reporterKind).toBe(expected.reporterKind);
        for (const trap of expected.traps) expect(`${c.ip} ${c.evidence}`).not.toContain(trap);
      }
    });
  }

  it('the ARF-wrapped fixture is left to this parser by arfParser', async () => {
    expect(arfParser.parse(await read(join(FIXTURES, 'arf-wrapped-base64/message.eml')))).toBeUndefined();
    const [c] = xarfParser.parse(await read(join(FIXTURES, 'arf-wrapped-base64/message.eml')))!;
    expect(c).toMatchObject({ reporter: 'Example Brand Watch <takedown@brandwatch.example>', format: 'xarf-json' });
    expect(c!.evidence).toContain('http://shop-site.example/wp-content/x/evil.exe');
    expect(c!.evidence).toContain('https://incident.brandwatch.example/77/');
  });

  it('the YAML fixture names its reporter and report id', async () => {
    const [c] = xarfParser.parse(await read(join(FIXTURES, 'yaml-0.2-ipv6/message.eml')))!;
    expect(c).toMatchObject({ reporter: 'abuse-reports@ids.example', format: 'xarf-yaml' });
    expect(c!.evidence).toContain('Report-ID 20250210-0815-ssh@ids.example');
  });

  it('reads the report part when it is an attachment, and names the evidence file', async () => {
    const m = Buffer.from(
      'From: r@example.org\r\nTo: abuse@example.net\r\nSubject: r\r\nX-ARF: YES\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' +
        '--b\r\nContent-Type: text/plain\r\n\r\nSource: 203.0.113.99 is our honeypot\r\n' +
        '--b\r\nContent-Type: text/plain; name="report.txt"\r\nContent-Disposition: attachment; filename="report.txt"\r\n\r\n' +
        '---\nReported-From: r@example.org\nCategory: abuse\nReport-Type: port-scan\nSource-Type: ipv4\nSource: 192.0.2.61\nDate: 2025-03-01 10:00:00\n' +
        '--b\r\nContent-Type: text/plain; name="logfile.log"\r\nContent-Disposition: attachment; filename="logfile.log"\r\n\r\nSource: 198.51.100.1\r\n--b--\r\n',
    );
    const [c, ...rest] = xarfParser.parse(await readMessage(m))!;
    expect(rest).toEqual([]);
    expect(c).toMatchObject({ ip: '192.0.2.61', category: 'scan' });
    expect(c!.eventTime?.toISOString()).toBe('2025-03-01T10:00:00.000Z');
    expect(c!.evidence).toContain('evidence logfile.log');
  });

  it('ARF fixtures are not X-ARF', async () => {
    for (const dir of readdirSync(ARF_FIXTURES)) {
      expect(xarfParser.parse(await read(join(ARF_FIXTURES, dir, 'message.eml')))).toBeUndefined();
    }
  });
});

describe.skipIf(!existsSync(REAL))('xarfParser on the real samples (INDEX.md)', () => {
  if (!existsSync(REAL)) console.log(`skipped: ${REAL} is absent`);

  it('dev-02 xarf-spec v4 open service (RDP)', async () => {
    const complaints = xarfParser.parse(await read(join(REAL, 'dev-02-xarf-spec-v4-open-service-rdp.json')))!;
    expect(complaints.map((c) => c.ip)).toEqual(['192.0.2.50']);
    expect(complaints[0]).toMatchObject({ category: 'open_service', reporterKind: 'cert', reporter: 'The Shadowserver Foundation <reports@threat-intel.example>' });
    expect(complaints[0]!.eventTime?.toISOString()).toBe('2025-01-11T15:35:37.000Z');
    expect(complaints[0]!.evidence).toContain('d0717254-f958-4391-89bb-d9fa6140106d');
    expect(complaints[0]!.evidence).toContain('sha256:6f01ed78');
  });

  it('dev-03 Netcraft ARF wrapper with base64 xarf.json', async () => {
    const complaints = xarfParser.parse(await read(join(REAL, 'dev-03-netcraft-malware-xarfjson-nl.eml')))!;
    expect(complaints.map((c) => c.ip)).toEqual(['10.1.2.3']);
    expect(complaints[0]!.category).toBe('malware');
    expect(complaints[0]!.eventTime?.toISOString()).toBe('2022-11-21T12:07:30.000Z');
    expect(complaints[0]!.reporter).toContain('takedown-response+12345678@netcraft.com');
    expect(complaints[0]!.evidence).toContain('https://www.hacked.tld/het-is-ons-gelukt/');
    expect(complaints[0]!.evidence).toContain('https://incident.netcraft.com/0123ab4567cd/');
  });

  it('dev-01 plain ARF is not X-ARF', async () => {
    expect(xarfParser.parse(await read(join(REAL, 'dev-01-arf-fbl-zoho.eml')))).toBeUndefined();
  });
});

describe('xarfParser edge cases', () => {
  it('declines messages and files that are not X-ARF', async () => {
    expect(xarfParser.parse(await bare('{"ip": "192.0.2.1", "type": "spam"}'))).toBeUndefined();
    expect(xarfParser.parse(await bare('{not json'))).toBeUndefined();
    expect(xarfParser.parse(await bare('ip,timestamp\n192.0.2.1,2025-01-01 00:00:00\n'))).toBeUndefined();
    const plain = Buffer.from('From: a@example.org\r\nTo: abuse@example.net\r\nSubject: hi\r\n\r\nSource: 192.0.2.1\r\n');
    expect(xarfParser.parse(await readMessage(plain))).toBeUndefined();
  });

  it('returns [] for malformed YAML or JSON inside an X-ARF mail', async () => {
    expect(xarfParser.parse(await readMessage(yamlMail('Reported-From: [unclosed\n  - : :\n\t{')))).toEqual([]);
    const json = Buffer.from(
      'From: x@example.org\r\nTo: abuse@example.net\r\nSubject: r\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' +
        '--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/json; name="xarf.json"\r\nContent-Disposition: attachment; filename="xarf.json"\r\n\r\n{"Report": {"SourceIp": \r\n--b--\r\n',
    );
    expect(xarfParser.parse(await readMessage(json))).toEqual([]);
  });

  it('names the host when the source is a URL on a host name (never resolved), and reads an IP-literal URL', async () => {
    const raw = '{"Version":"3","ReporterInfo":{},"Report":{"ReportType":"Phishing","Source":{"URL":"https://bank.example/login","Type":"uri"}}}';
    expect(xarfParser.parse(await bare(raw))).toHaveLength(0);
    const r = await parseReportInProcess(Buffer.from(raw), 'xarf.json');
    expect(r.complaints).toEqual([]);
    expect(r.needsInfo).toMatch(/names bank\.example and no address: a name is not resolved/);
    const yaml = await parseReportInProcess(yamlMail('Reported-From: r@example.org\nCategory: fraud\nReport-Type: phishing\nSource-Type: uri\nSource: http://shop.example/pay\n'));
    expect(yaml.needsInfo).toMatch(/names shop\.example and no address/);
    const [c] = xarfParser.parse(await bare('{"xarf_version":"4.0.0","category":"content","type":"phishing","source_identifier":"http://198.51.100.8/login","timestamp":1736608537}'))!;
    expect(c).toMatchObject({ ip: '198.51.100.8', category: 'phishing' });
    expect(c!.eventTime?.toISOString()).toBe('2025-01-11T15:15:37.000Z');
  });

  it('reads a batch (array) and a pyxarf-style inline report with an odd date', async () => {
    const batch = xarfParser.parse(await bare('[{"xarf_version":"4.2.0","type":"spam","category":"messaging","source_identifier":"192.0.2.1"},{"xarf_version":"4.2.0","type":"port_scan","category":"connection","source_identifier":"192.0.2.2"}]'))!;
    expect(batch.map((c) => [c.ip, c.category])).toEqual([['192.0.2.1', 'spam'], ['192.0.2.2', 'scan']]);
    const report = 'Category: abuse\nReport-Type: login-attack\nDate: Feb  3 2014 02:13:35 +0100\nSource: 192.0.2.30\nSource-Type: ip-address\nReported-From: r@example.org\n';
    const inline = Buffer.from(`From: r@example.org\r\nTo: abuse@example.net\r\nSubject: r\r\nX-XARF: PLAIN\r\nContent-Type: text/plain\r\n\r\nGreeting.\r\n\r\n${report}\r\nevidence from 203.0.113.1\r\n`);
    const [c] = xarfParser.parse(await readMessage(inline))!;
    expect(c).toMatchObject({ ip: '192.0.2.30', category: 'brute_force', format: 'xarf-yaml' });
    expect(c!.eventTime?.toISOString()).toBe('2014-02-03T01:13:35.000Z');
  });

  it('states no time when the report has none; parseReport then takes the email Date, marked as receipt', async () => {
    const raw = yamlMail('Reported-From: r@example.org\nCategory: abuse\nReport-Type: spam\nSource: 192.0.2.44\n');
    const [c] = xarfParser.parse(await readMessage(raw))!;
    expect(c!.eventTime).toBeUndefined();
    const [p] = (await parseReportInProcess(raw)).complaints;
    expect(p).toMatchObject({ ip: '192.0.2.44', eventTimeSource: 'receipt' });
    expect(p!.eventTime?.toISOString()).toBe('2025-02-10T07:20:00.000Z');
  });

  it('never throws on arbitrary content in an X-ARF mail', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.json()), fc.constantFrom('application/json', 'text/plain'), (text, contentType) => {
        const message: ParsedMessage = {
          headers: new Map([['x-arf', 'YES']]),
          from: undefined, date: undefined, subject: '', text,
          parts: [{ contentType, filename: contentType === 'text/plain' ? 'report.txt' : 'xarf.json', content: Buffer.from(text) }],
          raw: Buffer.from(text),
        };
        expect(Array.isArray(xarfParser.parse(message))).toBe(true);
      }),
    );
  });
});
