import { describe, expect, it } from 'vitest';
import { classifySendError } from '../../../controller/mail/classifySendError.js';
import { identityEncoding, outboxMessageId, parseOutboxMessageId } from '../../../controller/mail/MailSender.js';
import { newOutboxRef } from '../../../controller/store/OutboxRepo.js';
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

describe('outboxMessageId', () => {
  const ref = 'a'.repeat(8) + '0123456789abcdef' + 'f'.repeat(8);
  it('names the row id and its random ref: the same row always gives the same id', () => {
    expect(outboxMessageId(42, ref)).toBe(`<outbox-42.${ref}@cordon>`);
    expect(outboxMessageId(42, ref)).toBe(outboxMessageId(42, ref));
  });
  it('refuses a missing or malformed ref, by field, rather than send a guessable id', () => {
    expect(() => outboxMessageId(42, '')).toThrow(expect.objectContaining({ kind: 'invalid', field: 'ref' }));
    expect(() => outboxMessageId(42, 'ABC')).toThrow(expect.objectContaining({ field: 'ref' }));
    expect(() => outboxMessageId(0, ref)).toThrow(expect.objectContaining({ field: 'outboxId' }));
  });
  it('rows get different refs of 128 bits', () => {
    const refs = new Set(Array.from({ length: 1000 }, () => newOutboxRef()));
    expect(refs.size).toBe(1000);
    for (const r of refs) expect(r).toMatch(/^[0-9a-f]{32}$/);
  });
  it('parseOutboxMessageId reads ours back and refuses the old guessable form and look-alikes', () => {
    expect(parseOutboxMessageId(`<outbox-42.${ref}@cordon>`)).toEqual({ outboxId: 42, ref });
    expect(parseOutboxMessageId(` outbox-42.${ref.toUpperCase()}@CORDON `)).toEqual({ outboxId: 42, ref });
    for (const bad of ['<outbox-42@cordon>', `<outbox-42.${ref}@cordon.evil>`, `<outbox-0.${ref}@cordon>`, `<outbox-42.${ref}0@cordon>`, `<x-outbox-42.${ref}@cordon>`]) {
      expect(parseOutboxMessageId(bad)).toBeUndefined();
    }
  });
});
