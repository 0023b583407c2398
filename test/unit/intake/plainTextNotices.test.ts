import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainTextParser } from '../../../controller/intake/formats/plainText.js';
import { iodefParser } from '../../../controller/intake/formats/iodef.js';
import { parseReportInProcess } from '../../../controller/intake/parseReport.js';
import type { ParsedMessage } from '../../../controller/intake/types.js';

function notice(text: string, subject = ''): ParsedMessage {
  return { headers: new Map(), from: 'desk@reporter.example', date: new Date('2024-03-06T12:00:00Z'), subject, text, parts: [], raw: Buffer.from(text) };
}

const ips = (text: string, subject?: string) => (plainTextParser.parse(notice(text, subject)) ?? []).map((c) => c.ip);

describe('notices for people: who is the offender', () => {
  it.each([
    ['We saw brute force attempts from 192.0.2.5 against our server 198.51.100.1.', ['192.0.2.5']],
    ['Your customer 192.0.2.5 is scanning our network 198.51.100.0/24.', ['192.0.2.5']],
    ['The attacking host 192.0.2.5 hit our honeypot 198.51.100.9.', ['192.0.2.5']],
    ['Spam was sent from 192.0.2.5, 192.0.2.6 and 192.0.2.7 to our users.', ['192.0.2.5', '192.0.2.6', '192.0.2.7']],
    ['192.0.2.5 has been attacking 198.51.100.4 (our web server) with a DDoS.', ['192.0.2.5']],
    ['Our sensor 198.51.100.9 saw port scans. Sensor address: 198.51.100.9.', []],
    ['Port scans against 198.51.100.4 and 198.51.100.5 were seen.', []],
    ['Phishing from 192.0.2.5. Note that 192.0.2.5 (our honeypot) is ours.', []],
    ['Malware served from 192.0.2.5.\n\n-- \nCERT Example, relay 198.51.100.25, web 192.0.2.200\n', ['192.0.2.5']],
    ['Brute force: 192.0.2.5.41000 > 198.51.100.1.22 and 192.0.2.5.41001 > 198.51.100.2.22', ['192.0.2.5']],
    ['Port scan log:\nSRC=192.0.2.9 DST=198.51.100.1 PROTO=TCP SPT=4444 DPT=22', ['192.0.2.9']],
    ['Brute force seen: 192.0.2.5:50000 -> 198.51.100.1:22', ['192.0.2.5']],
    ['A DDoS against us came from the sinkhole 198.51.100.66 logs.', []],
    ['Something odd: connections from 192.0.2.5 to my box 198.51.100.50.', []],
  ])('%j → %j', (text, expected) => expect(ips(text)).toEqual(expected));

  it('never takes a reporter, victim, sensor or destination address, whatever words surround it (property)', () => {
    const ours = ['198.51.100.1', '198.51.100.2', '2001:db8:ffff::1'];
    const theirs = ['our server', 'our honeypot', 'my box', 'the victim', 'our sensor', 'our relay', 'the target', 'our firewall'];
    const filler = ['spam', 'brute force', 'attacks', 'from', 'to', 'against', 'scanning', 'was', 'seen', 'at', '2024-03-05 10:00 UTC', '.', ',', '\n', 'your customer', 'source', 'hosted at'];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...filler), fc.constantFrom(...ours.map((o, i) => `${theirs[i % theirs.length]} ${o}`))), { maxLength: 30 }), fc.constantFrom(...ours), fc.constantFrom(...theirs), (words, own, label) => {
        const text = `${words.join(' ')} ${label} ${own}. ${words.join(' ')}`;
        for (const ip of ips(text)) expect(ours).not.toContain(ip);
      }),
      { numRuns: 300 },
    );
  });

  it('gives each complaint the category of its own paragraph when a notice mixes them', () => {
    const found = plainTextParser.parse(notice('Findings for your network.\n\nPhishing pages are hosted at 192.0.2.5 since 2024-03-04 10:00 UTC.\n\nSSH brute force attempts came from 192.0.2.6 on 5 March 2024 14:22 CET.\n')) ?? [];
    expect(found.map((c) => [c.ip, c.category, c.eventTime?.toISOString()])).toEqual([
      ['192.0.2.5', 'phishing', '2024-03-04T10:00:00.000Z'],
      ['192.0.2.6', 'brute_force', '2024-03-05T13:22:00.000Z'],
    ]);
  });
});

describe('complaints carrying the original inline', () => {
  it('reads the sender from a pasted header block of a forwarded spam, where the reporter received it', async () => {
    const raw = [
      'From: Jane <jane@mail.example>', 'To: abuse@cordon-hosting.example', 'Subject: Fw: spam from your customer', 'Date: Tue, 5 Mar 2024 12:00:00 +0000', '',
      'Please stop this spam, full headers below.', '',
      'Received: from mx1.mail.example (mx1.mail.example [198.51.100.20]) by imap.mail.example; Tue, 5 Mar 2024 10:00:02 +0000',
      'Received: from smtp.customer.example (smtp.customer.example [192.0.2.33]) by mx1.mail.example; Tue, 5 Mar 2024 10:00:01 +0000',
      'From: offers@customer.example', 'Subject: Cheap', '', 'buy now',
    ].join('\r\n');
    const r = await parseReportInProcess(Buffer.from(raw));
    expect(r.complaints.map((c) => [c.ip, c.category, c.format, c.eventTime?.toISOString()])).toEqual([['192.0.2.33', 'spam', 'forwarded-original', '2024-03-05T10:00:01.000Z']]);
  });
});

describe('IODEF safety', () => {
  const part = (xml: string): ParsedMessage => ({ headers: new Map(), from: undefined, date: undefined, subject: '', text: '', parts: [{ contentType: 'application/xml', filename: 'i.xml', content: Buffer.from(xml) }], raw: Buffer.from(xml) });
  const doc = (inner: string) => `<IODEF-Document version="1.00" xmlns="urn:ietf:params:xml:ns:iodef-1.0"><Incident purpose="reporting"><IncidentID name="x">1</IncidentID><ReportTime>2024-03-05T10:00:00Z</ReportTime><Assessment><Impact type="recon"/></Assessment><Contact role="creator" type="organization"><ContactName>X</ContactName></Contact><EventData><Flow>${inner}</Flow></EventData></Incident></IODEF-Document>`;

  it('refuses a DTD internal subset or an entity declaration unread', () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE IODEF-Document [<!ENTITY a "192.0.2.1"><!ENTITY b "&a;&a;&a;">]>${doc('<System category="source"><Node><Address category="ipv4-addr">&a;</Address></Node></System>')}`;
    const found = iodefParser.parse(part(xxe));
    expect(found).toHaveLength(0);
  });

  it('never expands an entity reference into an address', () => {
    expect(iodefParser.parse(part(doc('<System category="source"><Node><Address category="ipv4-addr">&ip;</Address></Node></System>')))).toHaveLength(0);
  });

  it('reads only category="source"; ReportTime alone is marked as receipt', () => {
    const found = iodefParser.parse(part(doc('<System category="target"><Node><Address>198.51.100.1</Address></Node></System><System category="source"><Node><Address>192.0.2.1</Address></Node></System>'))) ?? [];
    expect(found.map((c) => [c.ip, c.category, c.eventTimeSource])).toEqual([['192.0.2.1', 'scan', 'receipt']]);
  });

  it('names a source that is only a host name, never resolving it', async () => {
    const xml = doc('<System category="source"><Node><NodeName>bad.example</NodeName></Node></System>');
    const r = await parseReportInProcess(Buffer.from(xml), 'i.xml');
    expect(r.needsInfo).toMatch(/names only bad\.example and no address/);
  });
});

describe('a long notice', () => {
  it('reads 5,000 table rows and 5,000 accused addresses in prose in bounded time', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => `| 10.${(i >> 8) & 255}.${i & 255}.1 | 2024-03-05 10:00:00 | scanner |`);
    const prose = Array.from({ length: 5000 }, (_, i) => `Brute force from 10.200.${(i >> 8) & 255}.${i & 255} on 2024-03-05 11:00 UTC.`).join(' ');
    const text = `Findings.\n\n| IP | Time | Type |\n|---|---|---|\n${rows.join('\n')}\n\n${prose}\n`;
    const started = performance.now();
    const found = plainTextParser.parse(notice(text)) ?? [];
    const ms = performance.now() - started;
    expect(found).toHaveLength(10_000);
    expect(new Set(found.map((c) => c.category))).toEqual(new Set(['scan', 'brute_force']));
    process.stderr.write(`plain notice, 10,000 offenders in ${text.length} characters: ${ms.toFixed(0)} ms\n`);
    expect(ms).toBeLessThan(10_000);
  });
});

describe('hostile notices', () => {
  it('a labelled line followed by 64 KiB of blanks, and lines of blanks, colons and digits, read in linear time', () => {
    for (const filler of [' ', ':', '1', '1.', 'a:', '| ', '- ']) {
      const text = `Source IP: 192.0.2.1\n${filler.repeat(Math.floor(65_000 / filler.length))}\nport scan\n`;
      const started = performance.now();
      plainTextParser.parse(notice(text, 'port scan'));
      expect(performance.now() - started).toBeLessThan(500);
    }
  });
});
