import { describe, expect, it } from 'vitest';
import { fingerprintOf, type FingerprintInput } from '../../../controller/intake/fingerprint.js';

const base: FingerprintInput = {
  reporter: 'mailbox-fbl',
  ip: '2001:db8::25',
  category: 'spam',
  eventTime: new Date('2026-11-23T05:58:41Z'),
  evidence: 'arf: Subject: cheap pills\r\nSource-IP: 2001:db8::25',
  raw: 'report one',
};

describe('a complaint fingerprint', () => {
  it('is the same for a re-sent copy: another spelling of the address, re-wrapped evidence, other report bytes', () => {
    const f = fingerprintOf(base);
    expect(fingerprintOf({ ...base, ip: '2001:DB8:0::25' })).toBe(f);
    expect(fingerprintOf({ ...base, evidence: 'ARF:  Subject: cheap pills\n Source-IP: 2001:db8::25 ' })).toBe(f);
    expect(fingerprintOf({ ...base, raw: 'the same report forwarded, with other headers' })).toBe(f);
    expect(fingerprintOf({ ...base, reporter: ' Mailbox-FBL ' })).toBe(f);
  });

  it('differs when the reporter, address, category, event time or evidence does', () => {
    const f = fingerprintOf(base);
    for (const other of [
      { reporter: 'other-fbl' },
      { ip: '2001:db8::26' },
      { category: 'phishing' },
      { eventTime: new Date('2026-11-23T05:58:42Z') },
      { evidence: 'arf: Subject: other spam' },
    ]) {
      expect(fingerprintOf({ ...base, ...other }), JSON.stringify(other)).not.toBe(f);
    }
  });

  it('without an event time, the report itself stands in: two vague reports at different times never match', () => {
    const vague = { ...base, eventTime: undefined, evidence: 'spam from 2001:db8::25' };
    expect(fingerprintOf({ ...vague, raw: 'Monday: spam from 2001:db8::25' })).not.toBe(fingerprintOf({ ...vague, raw: 'Friday: spam from 2001:db8::25' }));
    expect(fingerprintOf({ ...vague, raw: 'Monday: spam from 2001:db8::25' })).toBe(fingerprintOf({ ...vague, raw: 'Monday: spam from 2001:db8::25' }));
  });
});
