import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arfParser } from '../../../controller/intake/formats/arf.js';
import { parseReportInProcess } from '../../../controller/intake/parseReport.js';
import { readMessage } from '../../../controller/intake/readMessage.js';
import type { ParsedMessage } from '../../../controller/intake/types.js';
import { SHARED_REPORTS, type ExpectedFixture } from '../../helpers/intakeFixtures.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/intake/arf');
const REAL = SHARED_REPORTS;

type Expected = ExpectedFixture;

async function read(path: string): Promise<ParsedMessage> {
  return readMessage(readFileSync(path));
}

function mail(feedbackReport: string, extraParts = ''): Buffer {
  return Buffer.from(
    [
      'From: FBL <fbl@mail.example>',
      'To: abuse@cordon-hosting.example',
      'Date: Sun, 9 Mar 2025 02:10:00 +0000',
      'Subject: report',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'An abuse report.',
      '--b',
      'Content-Type: message/feedback-report',
      '',
      feedbackReport,
      extraParts,
      '--b--',
      '',
    ].join('\r\n'),
  );
}

describe('arfParser on Cordon fixtures', () => {
  for (const dir of readdirSync(FIXTURES)) {
    it(dir, async () => {
      const expected = JSON.parse(readFileSync(join(FIXTURES, dir, 'expected.json'), 'utf8')) as Expected;
      const file = readdirSync(join(FIXTURES, dir)).find((f) => f !== 'expected.json')!;
      const complaints = arfParser.parse(await read(join(FIXTURES, dir, file)));
      expect(complaints?.map((c) => c.ip)).toEqual(expected.ip);
      for (const c of complaints ?? []) {
        expect(c.category).toBe(expected.category);
        expect(c.eventTime?.toISOString()).toBe(expected.eventTime);
        expect(c.reporterKind).toBe(expected.reporterKind);
        expect(c.format).toBe('arf');
        for (const trap of expected.traps) expect(`${c.ip} ${c.evidence}`).not.toContain(trap);
      }
    });
  }

  it('points at the original message and names the reporter', async () => {
    const [c] = arfParser.parse(await read(join(FIXTURES, 'abuse-arrival-date/message.eml')))!;
    expect(c!.reporter).toBe('Example Mail Feedback Loop <fbl@mail.example>');
    expect(c!.evidence).toContain('Reported-Domain shop.example');
    expect(c!.evidence).toContain('original Message-ID <offer-42@shop.example>');
  });
});

describe.skipIf(!existsSync(REAL))('arfParser on the real samples (INDEX.md)', () => {
  if (!existsSync(REAL)) console.log(`skipped: ${REAL} is absent`);

  it('dev-01 Zoho FBL: Source-IP only, Received-Date (PDT)', async () => {
    const complaints = arfParser.parse(await read(join(REAL, 'dev-01-arf-fbl-zoho.eml')))!;
    expect(complaints.map((c) => c.ip)).toEqual(['10.17.18.28']);
    expect(complaints[0]!.category).toBe('spam');
    expect(complaints[0]!.eventTime?.toISOString()).toBe('2015-09-07T15:58:04.000Z');
    expect(complaints[0]!.reporter).toContain('feedbackloop@fbl.zoho.com');
    expect(complaints[0]!.evidence).toContain('<004701d0e986$181bf800$4853e800$@com>');
  });

  it('dev-03 Netcraft Feedback-Type: xarf wrapper without Source-IP is declined', async () => {
    expect(arfParser.parse(await read(join(REAL, 'dev-03-netcraft-malware-xarfjson-nl.eml')))).toBeUndefined();
  });

  it('dev-02 bare X-ARF JSON is not ARF', async () => {
    expect(arfParser.parse(await read(join(REAL, 'dev-02-xarf-spec-v4-open-service-rdp.json')))).toBeUndefined();
  });
});

describe('arfParser edge cases', () => {
  it('declines a message that is not a feedback report', async () => {
    const plain = Buffer.from('From: a@example.org\r\nTo: abuse@example.net\r\nSubject: spam from 192.0.2.1\r\n\r\nSource-IP: 192.0.2.1\r\n');
    expect(arfParser.parse(await readMessage(plain))).toBeUndefined();
  });

  it('without Source-IP, takes no address from a Received line no host of the reporter wrote, and says why', async () => {
    const m = mail('Feedback-Type: abuse\r\nVersion: 1', '--b\r\nContent-Type: message/rfc822\r\n\r\nReceived: from x ([192.0.2.9])\r\nSubject: s\r\n\r\nbody');
    expect(arfParser.parse(await readMessage(m))).toHaveLength(0);
    const r = await parseReportInProcess(m);
    expect(r.complaints).toEqual([]);
    expect(r.needsInfo).toMatch(/ARF report without Source-IP: .*192\.0\.2\.9 names no receiving host/);
  });

  it('without Source-IP, takes the sender where the reporter received it, never a relay, a private hop or a forged hop below', async () => {
    const original = [
      'Received: from mx1.mail.example (mx1.mail.example [198.51.100.20]) by store.mail.example; Sun, 9 Mar 2025 01:00:02 +0000',
      'Received: from scan (unknown [192.168.7.7]) by mx1.mail.example; Sun, 9 Mar 2025 01:00:01 +0000',
      'Received: from relay.customer.example (relay.customer.example [IPv6:2001:DB8:0:0:0:0:0:25]) by mx0.mail.example; Sun, 9 Mar 2025 01:00:00 +0000',
      'Received: from victim (victim [203.0.113.66]) by relay.customer.example; Sun, 9 Mar 2025 00:59:00 +0000',
    ].join('\r\n');
    const m = mail('Feedback-Type: fraud\r\nVersion: 1', `--b\r\nContent-Type: message/rfc822\r\n\r\n${original}\r\nSubject: s\r\n\r\nbody`);
    const r = await parseReportInProcess(m);
    expect(r.complaints.map((c) => [c.ip, c.category, c.eventTime?.toISOString(), c.eventTimeSource])).toEqual([['2001:db8::25', 'phishing', '2025-03-09T01:00:00.000Z', 'report']]);
  });

  it("takes the event time from the feedback part or the reporter's own hop, never from a field quoted inside the original", async () => {
    const original = [
      'Received: from relay.customer.example (relay.customer.example [192.0.2.26]) by mx0.mail.example; Sun, 9 Mar 2025 01:00:00 +0000',
      'Arrival-Date: Mon, 1 Jan 2001 00:00:00 +0000',
      'Date: Tue, 2 Jan 2001 00:00:00 +0000',
    ].join('\r\n');
    const m = mail('Feedback-Type: abuse\r\nSource-IP: 192.0.2.26', `--b\r\nContent-Type: message/rfc822\r\n\r\n${original}\r\nSubject: s\r\n\r\nbody`);
    const [c] = (await parseReportInProcess(m)).complaints;
    expect([c?.ip, c?.eventTime?.toISOString(), c?.eventTimeSource]).toEqual(['192.0.2.26', '2025-03-09T01:00:00.000Z', 'report']);
  });

  it('returns [] for an unusable Source-IP and for not-spam feedback', async () => {
    expect(arfParser.parse(await readMessage(mail('Feedback-Type: abuse\r\nSource-IP: mail.example.com')))).toEqual([]);
    expect(arfParser.parse(await readMessage(mail('Feedback-Type: not-spam\r\nSource-IP: 192.0.2.5')))).toEqual([]);
  });

  it('maps Feedback-Type; without Arrival-Date the email Date stands in, marked as receipt', async () => {
    const cases: [string, string][] = [['abuse', 'spam'], ['fraud', 'phishing'], ['virus', 'malware'], ['auth-failure', 'auth_failure'], ['other', 'other'], ['dmarc', 'other']];
    for (const [type, category] of cases) {
      const raw = mail(`Feedback-Type: ${type}\r\nSource-IP: [2001:DB8::0:1]`);
      const [c] = arfParser.parse(await readMessage(raw))!;
      expect(c).toMatchObject({ ip: '2001:db8::1', category });
      expect(c!.eventTime).toBeUndefined();
      const [p] = (await parseReportInProcess(raw)).complaints;
      expect(p).toMatchObject({ ip: '2001:db8::1', category, eventTimeSource: 'receipt' });
      expect(p!.eventTime?.toISOString()).toBe('2025-03-09T02:10:00.000Z');
    }
  });

  it('never throws on arbitrary feedback-report content', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.uint8Array({ maxLength: 200 }), (text, bytes) => {
        const message: ParsedMessage = {
          headers: new Map([['content-type', 'multipart/report; report-type=feedback-report']]),
          from: undefined, date: undefined, subject: '', text: '',
          parts: [{ contentType: 'message/feedback-report', filename: undefined, content: Buffer.from(`Source-IP: ${text}\n${text}`) }],
          raw: Buffer.concat([Buffer.from('Content-Type: message/rfc822\n\n'), Buffer.from(bytes)]),
        };
        const result = arfParser.parse(message);
        expect(result === undefined || Array.isArray(result)).toBe(true);
      }),
    );
  });
});
