import { describe, expect, it } from 'vitest';
import { readDeliveryStatus } from '../../../controller/intake/customerMail/readDeliveryStatus.js';

describe('readDeliveryStatus (RFC 3464 §2)', () => {
  it('reads the per-message block and each recipient, unfolding folded fields', () => {
    const text = [
      'Reporting-MTA: dns; mx.hoster.example',
      'Arrival-Date: Mon,  2 Mar 2026 10:00:04 +0000',
      '',
      'Final-Recipient: rfc822; a@one.example',
      'Action: failed',
      'Status: 5.1.1 (user unknown)',
      'Diagnostic-Code: smtp; 550 5.1.1 <a@one.example>:',
      '    User unknown',
      '',
      'Original-Recipient: rfc822;<B@two.example>',
      'Final-Recipient: RFC822; b@two.example (alias)',
      'Action: Delayed',
      'Status: 4.4.1',
      '',
    ].join('\r\n');
    expect(readDeliveryStatus(text)).toEqual({
      reportingMta: 'dns; mx.hoster.example',
      recipients: [
        { finalRecipient: 'a@one.example', originalRecipient: undefined, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 <a@one.example>: User unknown' },
        { finalRecipient: 'b@two.example', originalRecipient: 'B@two.example', action: 'delayed', status: '4.4.1', diagnostic: '' },
      ],
    });
  });

  it('takes a report without a per-message block as recipients; reads unknown actions, address types and bad status as nothing', () => {
    const r = readDeliveryStatus('Final-Recipient: x400; c=US;a= ;p=Hoster\nAction: bounced\nStatus: 550\n\nFinal-Recipient: utf-8; jürgen@müller.example\nAction: failed\nStatus: 5.2.2\n');
    expect(r.reportingMta).toBeUndefined();
    expect(r.recipients).toEqual([
      { finalRecipient: undefined, originalRecipient: undefined, action: undefined, status: undefined, diagnostic: '' },
      { finalRecipient: 'jürgen@müller.example', originalRecipient: undefined, action: 'failed', status: '5.2.2', diagnostic: '' },
    ]);
  });

  it('an empty or garbage body has no recipients', () => {
    expect(readDeliveryStatus('').recipients).toEqual([]);
    expect(readDeliveryStatus('not a report at all\nreally').recipients).toEqual([]);
  });
});
