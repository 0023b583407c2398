import { describe, expect, it } from 'vitest';
import { canonicalIp, readCanonicalIp } from '../../../controller/intake/canonicalIp.js';
import { isPublicAddress } from '../../../controller/intake/publicAddress.js';
import { parseReportInProcess } from '../../../controller/intake/parseReport.js';
import { sourceHost } from '../../../controller/intake/formats/sourceHost.js';

describe('canonicalIp (RFC 5952, IPv4-mapped, zone ids)', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // the first of two equal zero runs (RFC 5952 §4.2.3)
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not compressed (§4.2.2)
    ['[2001:db8::a]', '2001:db8::a'],
    ['IPv6:2001:db8::b', '2001:db8::b'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:c000:0201', '192.0.2.1'],
    ['::1', '::1'],
  ])('%s → %s', (text, ip) => expect(canonicalIp(text)).toBe(ip));

  it('refuses a zone id with a reason that names it', () => {
    expect(readCanonicalIp('fe80::1%eth0')).toEqual({ refused: expect.stringMatching(/fe80::1%eth0: an IPv6 zone id/) });
    expect(canonicalIp('fe80::1%eth0')).toBeUndefined();
  });

  it('is no address for junk, a host name or a range', () => {
    for (const t of ['mail.example.com', '192.0.2.0/24', '999.1.1.1', '']) expect(canonicalIp(t)).toBeUndefined();
  });

  it('every complaint parseReport returns carries the canonical form', async () => {
    const r = await parseReportInProcess(Buffer.from('From: a@isp.example\r\nSubject: scan\r\nDate: Tue, 5 Mar 2024 10:00:00 +0000\r\n\r\nSource IP: 2001:DB8:0:0::0:7\r\nSource IP: ::ffff:192.0.2.7\r\n'));
    expect(r.complaints.map((c) => c.ip)).toEqual(['2001:db8::7', '192.0.2.7']);
  });

  it('a report whose only address carries a zone id is needs_info saying why', async () => {
    const xarf = JSON.stringify({ Version: '3', ReporterInfo: { ReporterOrg: 'X' }, Report: { ReportClass: 'Activity', ReportType: 'PortScan', Date: '2024-03-05T10:00:00Z', SourceIp: 'fe80::1%eth0' } });
    const r = await parseReportInProcess(Buffer.from(xarf), 'xarf.json');
    expect(r.complaints).toEqual([]);
    expect(r.needsInfo).toMatch(/zone id/);
  });
});

describe('isPublicAddress', () => {
  it.each([
    ['10.1.2.3', false], ['172.16.0.1', false], ['192.168.1.1', false], ['100.64.0.1', false], ['127.0.0.1', false],
    ['169.254.1.1', false], ['fc00::1', false], ['fe80::1', false], ['::1', false], ['224.0.0.1', false],
    ['192.0.2.1', true], ['2001:db8::1', true], ['8.8.8.8', true],
  ])('%s → %s', (ip, pub) => expect(isPublicAddress(ip)).toBe(pub));
});

describe('sourceHost', () => {
  it.each([
    ['http://Shop.Example/login', 'shop.example'],
    ['hxxps://evil[.]example/x', 'evil.example'],
    ['evil.example', 'evil.example'],
    ['http://192.0.2.1/', undefined],
    ['not a host', undefined],
  ])('%s → %s', (v, h) => expect(sourceHost(v)).toBe(h));
});
