import { describe, expect, it } from 'vitest';
import { classifySendError } from '../../../controller/mail/classifySendError.js';
import { identityEncoding, outboxMessageId } from '../../../controller/mail/MailSender.js';
import { RAW_CRLF, RAW_LF } from './fixtures.js';

const err = (props: Record<string, unknown>) => Object.assign(new Error('boom'), props);

describe('classifySendError', () => {
  it('a permanent reply is refused; any other reply is transient', () => {
    expect(classifySendError(err({ code: 'EENVELOPE', responseCode: 550, permanent: true, command: 'RCPT TO' })).kind).toBe('refused');
    expect(classifySendError(err({ code: 'EMESSAGE', responseCode: 554 })).kind).toBe('refused');
    expect(classifySendError(err({ code: 'EENVELOPE', responseCode: 451, permanent: false })).kind).toBe('transient');
    expect(classifySendError(err({ code: 'EPROTOCOL', responseCode: 503 })).kind).toBe('transient');
    expect(classifySendError(err({ code: 'EPROTOCOL', responseCode: 421 })).kind).toBe('transient');
  });
  it('the way to the relay, our credentials, and the unknown are transient', () => {
    for (const code of ['ESOCKET', 'ECONNECTION', 'ETIMEDOUT', 'EDNS', 'ETLS']) expect(classifySendError(err({ code })).kind).toBe('transient');
    expect(classifySendError(err({ code: 'EAUTH', responseCode: 535 })).kind).toBe('transient');
    expect(classifySendError(new Error('?')).kind).toBe('transient');
    expect(classifySendError('a string').kind).toBe('transient');
  });
  it('what nodemailer cannot address or build is invalid', () => {
    expect(classifySendError(err({ code: 'EENVELOPE' })).kind).toBe('invalid');
    expect(classifySendError(err({ code: 'EMESSAGE' })).kind).toBe('invalid');
  });
});

describe('identityEncoding', () => {
  it('keeps CRLF text as it is: 7bit for ASCII, 8bit otherwise', () => {
    expect(identityEncoding(Buffer.from('a\r\nb\r\n'))).toBe('7bit');
    expect(identityEncoding(Buffer.from(RAW_CRLF))).toBe('8bit');
    expect(identityEncoding(Buffer.from(`${'x'.repeat(998)}\r\n`))).toBe('7bit');
  });
  it('declines what SMTP would alter: bare LF or CR, NUL, lines over 998 octets', () => {
    expect(identityEncoding(Buffer.from(RAW_LF))).toBeUndefined();
    expect(identityEncoding(Buffer.from('a\rb'))).toBeUndefined();
    expect(identityEncoding(Buffer.from('a\r'))).toBeUndefined();
    expect(identityEncoding(Buffer.from('a\0b'))).toBeUndefined();
    expect(identityEncoding(Buffer.from('x'.repeat(999)))).toBeUndefined();
  });
});

it('outboxMessageId is derived from the row id only', () => {
  expect(outboxMessageId(42)).toBe('<outbox-42@cordon>');
});
