import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { parseReportInProcess, toDryRunJson } from '../../../controller/intake/parseReport.js';
import type { ParseResult } from '../../../controller/intake/types.js';

/**
 * The generic feed reader end to end (parseReportInProcess): the samples in
 * test/fixtures/intake/feeds (README there names the source of each shape),
 * and feeds written here from RFC 4180, RFC 8259, RFC 7464 and JSON Lines.
 * 198.51.100.200–202 stand for our own address wherever a feed names the
 * other side; they must never be taken.
 */

const FEEDS = fileURLToPath(new URL('../../fixtures/intake/feeds/', import.meta.url));
const OURS = ['198.51.100.200', '198.51.100.201', '198.51.100.202', '198.51.100.250'];

async function parseFile(name: string): Promise<ParseResult> {
  return parseReportInProcess(readFileSync(join(FEEDS, name)), name);
}

/** [ip, category, eventTime] of each complaint, in order. */
function rows(r: ParseResult): [string, string, string | undefined][] {
  return r.complaints.map((c) => [c.ip, c.category, c.eventTime?.toISOString()]);
}

function neverOurs(r: ParseResult): void {
  for (const ip of OURS) expect(r.complaints.map((c) => c.ip)).not.toContain(ip);
}

describe('feed samples (test/fixtures/intake/feeds)', () => {
  it('CERT-Bund CSV: quoted fields, a malware family is an infected host, the sinkhole (dst_ip) is not the offender', async () => {
    const r = await parseFile('cert-bund-malware.csv');
    expect(rows(r)).toEqual([
      ['192.0.2.1', 'botnet', '2020-08-11T22:53:53.000Z'],
      ['192.0.2.17', 'botnet', '2020-08-11T18:04:47.000Z'],
    ]);
    expect(r.complaints.every((c) => c.format === 'feed-csv' && c.eventTimeSource === 'report')).toBe(true);
    expect(r.complaints[0]!.evidence).toContain('malware=andromeda');
    neverOurs(r);
  });

  it('CERT-EU CSV: names with spaces, the event time from "source time", each row its own category', async () => {
    const r = await parseFile('cert-eu-mixed.csv');
    expect(rows(r)).toEqual([
      ['192.0.2.10', 'malware', '2018-07-06T08:52:16.000Z'],
      ['192.0.2.34', 'phishing', '2018-07-05T14:32:06.000Z'],
    ]);
  });

  it('AbuseIPDB bulk CSV: numeric categories, offsets and epoch seconds to UTC, IPv6 in canonical form', async () => {
    const r = await parseFile('abuseipdb-bulk.csv');
    expect(rows(r)).toEqual([
      ['192.0.2.2', 'brute_force', '2026-05-30T10:14:00.000Z'],
      ['192.0.2.3', 'scan', '2026-05-30T08:15:00.000Z'],
      ['2001:db8::a', 'scan', '2026-05-30T10:15:00.000Z'],
    ]);
  });

  it('AbuseIPDB check JSON: records inside data.reports, the address around them, one complaint per category', async () => {
    const r = await parseFile('abuseipdb-check.json');
    expect(rows(r)).toEqual([
      ['192.0.2.71', 'brute_force', '2024-05-01T09:00:00.000Z'],
      ['192.0.2.71', 'scan', '2024-04-30T21:30:00.000Z'],
    ]);
    expect(r.complaints[0]!.format).toBe('feed-json');
  });

  it('Team Cymru CAP: commented pipe header, Cymru type words, one complaint per address and category', async () => {
    const r = await parseFile('cymru-cap.txt');
    expect(rows(r)).toEqual([
      ['192.0.2.21', 'botnet', '2019-03-22T11:18:52.000Z'],
      ['192.0.2.22', 'brute_force', '2019-01-10T22:25:58.000Z'],
      ['192.0.2.23', 'botnet', '2019-03-25T17:47:40.000Z'],
      ['192.0.2.24', 'scan', '2019-03-25T17:24:06.000Z'],
      ['192.0.2.25', 'phishing', '2019-03-20T13:03:18.000Z'],
      ['192.0.2.26', 'open_service', '2019-03-25T16:00:00.000Z'],
      ['192.0.2.27', 'open_service', '2019-03-25T06:29:38.000Z'],
    ]);
    neverOurs(r);
  });

  it('DataPlane: a header inside a comment block, padded pipe fields, a commented footer', async () => {
    const r = await parseFile('dataplane-sshpwauth.txt');
    expect(rows(r)).toEqual([
      ['192.0.2.183', 'brute_force', '2016-12-01T04:26:48.000Z'],
      ['192.0.2.121', 'brute_force', '2016-12-06T02:35:38.000Z'],
    ]);
  });

  it('URLhaus: commented header, "Dateadded (UTC)", the IPaddress column, malware_download', async () => {
    const r = await parseFile('urlhaus-tld.csv');
    expect(rows(r)).toEqual([
      ['192.0.2.42', 'malware', '2019-02-13T00:34:42.000Z'],
      ['192.0.2.63', 'malware', '2019-02-12T14:27:03.000Z'],
    ]);
  });

  it('Feodo Tracker: the C2 is only a destination (DstIP, ours): nothing taken, needs_info', async () => {
    const r = await parseFile('feodotracker-c2.csv');
    expect(r.complaints).toEqual([]);
    expect(r.needsInfo).toEqual(expect.any(String));
  });

  it('IntelMQ JSON Lines: dotted keys, taxonomy and type, a record with only a destination gives nothing', async () => {
    const r = await parseFile('intelmq-events.jsonl');
    expect(rows(r)).toEqual([
      ['192.0.2.51', 'brute_force', '2024-03-01T07:45:10.000Z'],
      ['2001:db8::52', 'botnet', '2024-03-01T05:00:00.000Z'],
    ]);
    expect(r.complaints[0]!.format).toBe('feed-jsonl');
    neverOurs(r);
  });

  it('ECS JSON: {"events":[…]}, nested source/destination/observer, event.action when the category says little', async () => {
    const r = await parseFile('ecs-events.json');
    expect(rows(r)).toEqual([
      ['192.0.2.61', 'scan', '2024-04-02T10:11:12.345Z'],
      ['192.0.2.62', 'brute_force', '2024-04-02T10:15:00.000Z'],
    ]);
    expect(r.complaints[0]!.evidence).toMatch(/source\.port=40112/);
    neverOurs(r);
  });

  it('RFC 7464 JSON text sequence: attacker against victim and target, epoch seconds and milliseconds', async () => {
    const r = await parseFile('rfc7464-sequence.json-seq');
    expect(rows(r)).toEqual([
      ['192.0.2.81', 'ddos', '2024-03-01T08:00:00.000Z'],
      ['192.0.2.82', 'ddos', '2024-03-01T08:00:00.500Z'],
    ]);
    neverOurs(r);
  });
});

describe('shapes of a feed', () => {
  it.each([
    ['comma', 'ip,timestamp,type\n192.0.2.1,2024-01-02 03:04:05,scanner\n'],
    ['semicolon', 'ip;timestamp;type\n192.0.2.1;2024-01-02 03:04:05;scanner\n'],
    ['tab', 'ip\ttimestamp\ttype\n192.0.2.1\t2024-01-02 03:04:05\tscanner\n'],
    ['pipe', 'ip|timestamp|type\n192.0.2.1|2024-01-02 03:04:05|scanner\n'],
    ['commented pipe header', '# ip|time|type\n192.0.2.1|2024-01-02 03:04:05|scanner\n'],
    ['quoted, CRLF, a quoted delimiter and quote (RFC 4180 §2.5–2.7)', '"ip","timestamp","type","note"\r\n"192.0.2.1","2024-01-02 03:04:05","scanner","a ""b"", c"\r\n'],
    ['a quoted field over two lines (RFC 4180 §2.6)', 'ip,note,timestamp,type\n192.0.2.1,"line one\nline two",2024-01-02 03:04:05,scanner\n'],
    ['a UTF-8 BOM', '\uFEFFip,timestamp,type\n192.0.2.1,2024-01-02 03:04:05,scanner\n'],
    ['JSON array (RFC 8259)', JSON.stringify([{ ip: '192.0.2.1', timestamp: '2024-01-02T03:04:05Z', type: 'scanner' }])],
    ['JSON object holding the array', JSON.stringify({ status: 'ok', result: { items: [{ SourceIp: '192.0.2.1', Time: '2024-01-02T03:04:05Z', Threat: 'scanner' }] } })],
    ['nested keys', JSON.stringify({ data: [{ Source: { Ip: '192.0.2.1' }, Destination: { Ip: '198.51.100.200' }, event_time: 1704164645, category: 'scanner' }] })],
    ['JSON Lines', '{"src_ip":"192.0.2.1","ts":"2024-01-02T04:04:05+01:00","type":"scanner"}\n'],
    ['RFC 2822 time', 'IPAddress,Date,Type\n192.0.2.1,"Tue, 2 Jan 2024 03:04:05 +0000",scanner\n'],
    ['epoch milliseconds', 'source.ip,timestamp,classification.type\n192.0.2.1,1704164645000,scanner\n'],
  ])('%s', async (_, text) => {
    const r = await parseReportInProcess(Buffer.from(text));
    expect(rows(r)).toEqual([['192.0.2.1', 'scan', '2024-01-02T03:04:05.000Z']]);
    expect(r.complaints[0]!.eventTimeSource).toBe('report');
  });

  const CSV = 'src_ip,dst_ip,first_seen,threat\n192.0.2.5,198.51.100.200,2024-02-03 04:05:06,ssh brute force\n';

  it('as a gzip file, a zip member, a mail attachment, and gzip inside a mail', async () => {
    const expected = [['192.0.2.5', 'brute_force', '2024-02-03T04:05:06.000Z']];
    expect(rows(await parseReportInProcess(gzipSync(CSV), 'feed.csv.gz'))).toEqual(expected);
    expect(rows(await parseReportInProcess(Buffer.from(zipSync({ 'feed.csv': Buffer.from(CSV) })), 'feed.zip'))).toEqual(expected);
    const mail = (type: string, name: string, body: Buffer) =>
      Buffer.from(
        'From: feeds@reporter.example\r\nTo: abuse@provider.example\r\nSubject: daily report\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n' +
          'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the attached file.\r\n' +
          `--b\r\nContent-Type: ${type}\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${body.toString('base64')}\r\n--b--\r\n`,
      );
    expect(rows(await parseReportInProcess(mail('text/csv', 'feed.csv', Buffer.from(CSV))))).toEqual(expected);
    expect(rows(await parseReportInProcess(mail('application/gzip', 'feed.csv.gz', gzipSync(CSV))))).toEqual(expected);
  });

  it('as a mail body after a greeting; the time a row lacks is the mail Date, marked receipt', async () => {
    const raw = Buffer.from(
      'From: noc@reporter.example\r\nTo: abuse@provider.example\r\nSubject: Brute force attacks from your network\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\n' +
        'Hello,\r\n\r\nthese hosts attacked us:\r\n\r\nip | first_seen | type\r\n192.0.2.6 | 2026-12-04 22:00:00 | ssh\r\n192.0.2.7 | | \r\n\r\nRegards, the NOC\r\n',
    );
    const r = await parseReportInProcess(raw);
    expect(rows(r)).toEqual([
      ['192.0.2.6', 'brute_force', '2026-12-04T22:00:00.000Z'],
      // no type in the row: the subject's category; no time: the mail's Date, marked as such
      ['192.0.2.7', 'brute_force', '2026-12-05T10:00:00.000Z'],
    ]);
    const json = toDryRunJson(r) as { complaints: { eventTimeSource: string | null }[] };
    expect(json.complaints.map((c) => c.eventTimeSource)).toEqual(['report', 'receipt']);
  });

  it('times without a zone are UTC; a zone column (offset, name, IANA zone) is applied; ambiguous dates are not guessed', async () => {
    const r = await parseReportInProcess(
      Buffer.from(
        'ip,time,timezone,type\n192.0.2.11,2024-07-01 12:00:00,,scan\n192.0.2.12,2024-07-01 12:00:00,+02:00,scan\n192.0.2.13,2024-07-01 12:00:00,Europe/Berlin,scan\n' +
          '192.0.2.14,2024-01-01 12:00:00,America/New_York,scan\n192.0.2.15,2024-07-01 12:00:00,PDT,scan\n192.0.2.16,2024-07-01T12:00:00Z,+05:00,scan\n192.0.2.17,03/07/2024 12:00,,scan\n',
      ),
    );
    expect(rows(r).map(([ip, , t]) => [ip, t])).toEqual([
      ['192.0.2.11', '2024-07-01T12:00:00.000Z'],
      ['192.0.2.12', '2024-07-01T10:00:00.000Z'],
      ['192.0.2.13', '2024-07-01T10:00:00.000Z'],
      ['192.0.2.14', '2024-01-01T17:00:00.000Z'],
      ['192.0.2.15', '2024-07-01T19:00:00.000Z'],
      ['192.0.2.16', '2024-07-01T12:00:00.000Z'], // the cell's own zone wins
      ['192.0.2.17', undefined],
    ]);
  });

  it('a feed that mixes categories gives each complaint its own; an unknown type takes the report category, else other', async () => {
    const text = 'ip,type\n192.0.2.21,phishing\n192.0.2.22,spam\n192.0.2.23,c2-server\n192.0.2.24,open-resolver\n192.0.2.25,something-new\n';
    expect(rows(await parseReportInProcess(Buffer.from(text))).map(([ip, c]) => [ip, c])).toEqual([
      ['192.0.2.21', 'phishing'],
      ['192.0.2.22', 'spam'],
      ['192.0.2.23', 'botnet'],
      ['192.0.2.24', 'open_service'],
      ['192.0.2.25', 'other'],
    ]);
    const named = await parseReportInProcess(Buffer.from(text), 'ddos-participants.csv');
    expect(named.complaints.at(-1)!.category).toBe('ddos');
  });
});

describe('the other side is never the offender', () => {
  const other = ['dst_ip', 'destination.ip', 'DestinationIp', 'victim_ip', 'target', 'target ip', 'sinkhole', 'sinkhole_ip', 'cc_ip', 'c2_ip', 'C&C', 'cnc_ip', 'server_ip', 'honeypot', 'honeypot.ip', 'sensor_ip', 'reporter_ip', 'observer.ip'];

  it.each(other)('our address in a %s column of a CSV is not taken, the source is', async (column) => {
    const r = await parseReportInProcess(Buffer.from(`src_ip,"${column}",timestamp\n192.0.2.30,198.51.100.200,2024-01-01 00:00:00\n`));
    expect(r.complaints.map((c) => c.ip)).toEqual(['192.0.2.30']);
  });

  it.each(other)('our address alone in a %s column is no complaint', async (column) => {
    const r = await parseReportInProcess(Buffer.from(`"${column}",timestamp,type\n198.51.100.200,2024-01-01 00:00:00,scanner\n`));
    expect(r.complaints).toEqual([]);
  });

  it.each([
    [{ destination: { ip: '198.51.100.200' } }],
    [{ victim: { address: '198.51.100.200' } }],
    [{ c2: { ip: '198.51.100.200' } }],
    [{ sinkhole: { ip: '198.51.100.200' } }],
    [{ honeypot: { src_ip: '198.51.100.200' } }],
    [{ Target: { IpAddress: '198.51.100.200' } }],
    [{ server: { host: '198.51.100.200' } }],
    [{ reporter: { ip: '198.51.100.200' } }],
  ])('nested %j in JSON is no complaint', async (obj) => {
    const r = await parseReportInProcess(Buffer.from(JSON.stringify([{ ...obj, timestamp: '2024-01-01T00:00:00Z', type: 'scanner' }])));
    expect(r.complaints).toEqual([]);
  });

  it('an address only in free text, a CIDR, a zone id or a host name is no offender', async () => {
    const r = await parseReportInProcess(Buffer.from('ip,comment,timestamp\n192.0.2.0/24,from 192.0.2.9,2024-01-01\nfe80::1%eth0,,2024-01-01\nhost.example,,2024-01-01\n'));
    expect(r.complaints).toEqual([]);
  });

  it('a URL column counts only for a literal address host', async () => {
    const r = await parseReportInProcess(Buffer.from('url,threat,dateadded\nhttp://192.0.2.40:8080/bins/x.sh,malware_download,2024-01-01 00:00:00\nhttp://evil.example/x,malware_download,2024-01-01 00:00:00\nhttp://[2001:db8::41]/y,malware_download,2024-01-01 00:00:00\n'));
    expect(rows(r)).toEqual([
      ['192.0.2.40', 'malware', '2024-01-01T00:00:00.000Z'],
      ['2001:db8::41', 'malware', '2024-01-01T00:00:00.000Z'],
    ]);
  });
});

describe('a mail body that is not a feed', () => {
  it('a table in the body without any address leaves the mail to the plain-text reader', async () => {
    const raw = Buffer.from(
      'From: noc@reporter.example\r\nTo: abuse@provider.example\r\nSubject: SSH brute force\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\n' +
        'Offending IP: 192.0.2.90\r\n\r\nsource | port | attempts\r\nour log | 22 | 310\r\n',
    );
    const r = await parseReportInProcess(raw);
    expect(r.complaints.map((c) => [c.ip, c.format])).toEqual([['192.0.2.90', 'plain']]);
  });
});

describe('a notice that holds a table', () => {
  it('is left to the notice reader when its prose names an address too (it reads the table and the prose)', async () => {
    const raw = Buffer.from(
      'From: noc@reporter.example\r\nTo: abuse@provider.example\r\nSubject: Attacks from your network\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\n' +
        'Hello,\r\n\r\n| IP | Time | Type |\r\n|---|---|---|\r\n| 192.0.2.91 | 2026-12-04 22:00:00 | scanner |\r\n\r\nWe also saw brute force attempts from 192.0.2.92.\r\n',
    );
    const r = await parseReportInProcess(raw);
    expect(r.complaints.every((c) => c.format !== 'feed-csv')).toBe(true);
    // What the notice reader makes of it is its own test's business; the feed reader has not cut the prose off.
    expect(r.complaints.map((c) => c.ip)).toContain('192.0.2.92');
  });
});

describe('more of what a row says', () => {
  it('a date column and a time column are one event time', async () => {
    const r = await parseReportInProcess(Buffer.from('Date;Time;Source IP;Attack\n2024-03-05;10:11:12;192.0.2.95;port scan\n2024/03/06;23:00 +01:00;192.0.2.96;port scan\n'));
    expect(rows(r)).toEqual([
      ['192.0.2.95', 'scan', '2024-03-05T10:11:12.000Z'],
      ['192.0.2.96', 'scan', '2024-03-06T22:00:00.000Z'],
    ]);
  });

  it('a feed whose rows name only host names is needs_info naming them, never resolved', async () => {
    const r = await parseReportInProcess(Buffer.from('# id,dateadded,url,url_status,threat\n1,2024-01-01 00:00:00,http://evil.example/x.exe,online,malware_download\n2,2024-01-01 00:00:00,https://bad.example:8443/y,online,malware_download\n'));
    expect(r.complaints).toEqual([]);
    expect(r.needsInfo).toMatch(/evil\.example, bad\.example and no IP address: a name is not resolved/);
  });
});
