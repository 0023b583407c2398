import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INTAKE_LIMITS } from '../../../controller/intake/limits.js';
import { parseReportInProcess } from '../../../controller/intake/parseReport.js';
import { messageIdOf } from '../../../controller/intake/readMessageIds.js';
import { SHARED_REPORTS } from '../../helpers/intakeFixtures.js';

function arf(originalPart: string[]): Buffer {
  return Buffer.from(
    [
      'From: FBL <fbl@mailbox.example>',
      'To: abuse@provider.example',
      'Date: Mon, 2 Nov 2026 10:00:00 +0000',
      'Subject: abuse report',
      'Message-ID: <report-1@fbl.mailbox.example>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'An abuse report.',
      '--b1',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      'Version: 1',
      'Source-IP: 203.0.113.10',
      '',
      '--b1',
      ...originalPart,
      '--b1--',
      '',
    ].join('\r\n'),
  );
}

const ORIGINAL = ['From: offers@customer.example', 'To: someone@mailbox.example', 'Subject: cheap', 'Message-ID: <spam-42@customer.example>', '', 'Buy now.', ''];

describe('Message-IDs of a report and of the original it quotes', () => {
  it.each([
    ['<a@b.example>', 'a@b.example'],
    [' <a@b.example> (a comment)', 'a@b.example'],
    ['a@b.example', 'a@b.example'],
    ['not an id', undefined],
    ['', undefined],
  ])('messageIdOf(%j) = %j', (value, id) => {
    expect(messageIdOf(value)).toBe(id);
  });

  it('ARF with the original as message/rfc822', async () => {
    const r = await parseReportInProcess(arf(['Content-Type: message/rfc822', 'Content-Disposition: inline', '', ...ORIGINAL]));
    expect(r).toMatchObject({ needsInfo: null, messageId: 'report-1@fbl.mailbox.example', originalMessageId: 'spam-42@customer.example' });
  });

  it('ARF with the original headers as text/rfc822-headers', async () => {
    const r = await parseReportInProcess(arf(['Content-Type: text/rfc822-headers', '', ...ORIGINAL.slice(0, 4), '']));
    expect(r).toMatchObject({ messageId: 'report-1@fbl.mailbox.example', originalMessageId: 'spam-42@customer.example' });
  });

  it('a forwarded message attached as message/rfc822 to a plain-text report', async () => {
    const raw = Buffer.from(
      [
        'From: Someone <someone@isp.example>',
        'Subject: Fwd: spam from your network',
        'Message-ID: <fwd-7@isp.example>',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="m"',
        '',
        '--m',
        'Content-Type: text/plain',
        '',
        'Source IP: 203.0.113.10',
        '--m',
        'Content-Type: message/rfc822',
        'Content-Disposition: attachment; filename="spam.eml"',
        '',
        ...ORIGINAL,
        '--m--',
        '',
      ].join('\r\n'),
    );
    const r = await parseReportInProcess(raw);
    expect(r).toMatchObject({ messageId: 'fwd-7@isp.example', originalMessageId: 'spam-42@customer.example' });
  });

  it('a mail quoting nothing has no original; a bare file has neither', async () => {
    const plain = await parseReportInProcess(Buffer.from('From: a@isp.example\r\nSubject: x\r\nMessage-ID: <only@isp.example>\r\n\r\nSource IP: 203.0.113.10\r\n'));
    expect(plain).toMatchObject({ messageId: 'only@isp.example', originalMessageId: undefined });
    const csv = await parseReportInProcess(Buffer.from('timestamp,ip\r\n2026-03-01 00:00:00,203.0.113.10\r\n'), '2026-03-01-scan_ssdp.csv');
    expect(csv.complaints).toHaveLength(1);
    expect(csv).toMatchObject({ messageId: undefined, originalMessageId: undefined });
  });

  it('keeps the Message-ID of a report that ends as needs_info over a limit', async () => {
    const raw = arf(['Content-Type: text/plain', '', 'x'.repeat(2000), '']);
    const r = await parseReportInProcess(raw, undefined, { ...DEFAULT_INTAKE_LIMITS, lineLength: 1000 });
    expect(r).toMatchObject({ complaints: [], needsInfo: expect.stringMatching(/^over intake\.limits\.lineLength/), messageId: 'report-1@fbl.mailbox.example' });
  });

  it.skipIf(!existsSync(join(SHARED_REPORTS, 'dev-01-arf-fbl-zoho.eml')))('dev-01: the Zoho FBL report and the spam it quotes', async () => {
    const r = await parseReportInProcess(readFileSync(join(SHARED_REPORTS, 'dev-01-arf-fbl-zoho.eml')));
    expect(r).toMatchObject({ messageId: '471568356.1441682223367.JavaMail.sas@172.31.240.77', originalMessageId: '004701d0e986$181bf800$4853e800$@com' });
  });
});
