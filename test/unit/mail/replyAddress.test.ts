import { describe, expect, it } from 'vitest';
import { parseReportInProcess } from '../../../controller/intake/parseReport.js';
import { addressOf } from '../../../controller/intake/readReplyAddress.js';
import { arf } from './mailController.js';

/** Where a reporter's outcome mail may go: one bare address, read from the report, never a list or a header trick. */
describe('the reply address of a report', () => {
  it('takes one address, bracketed or bare', () => {
    expect(addressOf('CERT Desk <desk@cert.example>')).toBe('desk@cert.example');
    expect(addressOf('desk@cert.example')).toBe('desk@cert.example');
  });

  it('refuses lists, groups, junk and injections', () => {
    for (const v of ['a@b.example, c@d.example', '<a@b.example>, <c@d.example>', 'undisclosed-recipients:;', 'a@localhost', 'a b@c.example', 'x@y.example\r\nBcc: v@w.example', '', 'no address']) {
      expect(addressOf(v), v).toBeUndefined();
    }
  });

  it('parseReport reads Reply-To, else From', async () => {
    const withReplyTo = arf({ from: 'fbl@cert.example', replyTo: 'Desk <desk@cert.example>', messageId: 'm1@cert.example', eventTime: '2026-11-02T08:00:00Z', ip: '203.0.113.2' });
    expect((await parseReportInProcess(Buffer.from(withReplyTo))).replyTo).toBe('desk@cert.example');
    const fromOnly = arf({ from: 'fbl@cert.example', messageId: 'm2@cert.example', eventTime: '2026-11-02T08:00:00Z', ip: '203.0.113.2' });
    expect((await parseReportInProcess(Buffer.from(fromOnly))).replyTo).toBe('fbl@cert.example');
    expect((await parseReportInProcess(Buffer.from('ip,time\n203.0.113.2,2026-11-02T08:00:00Z\n'), 'r.csv')).replyTo).toBeUndefined();
  });
});
