import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailSender, outboxMessageId, type MailSenderConfig } from '../../controller/mail/MailSender.js';
import { renderMail, type MailInput } from '../../controller/mail/renderMail.js';
import { isCordonError } from '../../proto/runtime/CordonError.js';
import { RAW_CRLF, RAW_LF, sampleInput } from '../unit/mail/fixtures.js';
import { decodedBody, multipartParts, parseMime } from '../unit/mail/parseMime.js';
import { freePort, SmtpSink } from '../unit/mail/smtpSink.js';

const TO = { name: 'Jürgen Müller', address: 'ops@customer.example' };
const config = (port: number): MailSenderConfig => ({
  host: '127.0.0.1',
  port,
  secure: false,
  from: 'Hoster Abuse Desk <abuse@hoster.example>',
  replyTo: 'abuse-replies@hoster.example',
  connectionTimeoutMs: 2_000,
});

let sink: SmtpSink;
/** A row's ref as OutboxRepo makes them (MailSender.outboxMessageId). */
const REF = '5f0c3e6a9b1d4e2f8a7c6b5d4e3f2a1b';
let sender: MailSender;
beforeAll(async () => {
  sink = await SmtpSink.start();
  sender = new MailSender(config(sink.port));
});
afterAll(async () => {
  sender.close();
  await sink.close();
});

async function sendAndReceive(input: MailInput, outboxId: number) {
  const before = sink.received.length;
  const rendered = renderMail(input);
  const accepted = await sender.send(TO, rendered, { messageId: outboxMessageId(outboxId, REF) });
  expect(sink.received).toHaveLength(before + 1);
  const got = sink.received.at(-1)!;
  return { rendered, accepted, got, message: parseMime(got.raw) };
}

describe('MailSender against a real SMTP server', () => {
  it('delivers the notice: envelope, headers, text, and the complaint byte for byte (8bit, as RFC 2046 wants)', async () => {
    const { rendered, accepted, got, message } = await sendAndReceive(sampleInput(), 7);
    expect(accepted).toBe(`<outbox-7.${REF}@cordon>`);
    expect(got.mailFrom).toBe('abuse@hoster.example');
    expect(got.mailFromArgs.BODY).toBe('8BITMIME');
    expect(got.rcptTo).toEqual(['ops@customer.example']);
    const h = message.headers;
    expect(h.get('message-id')).toBe(`<outbox-7.${REF}@cordon>`);
    expect(h.get('subject')).toBe(rendered.subject);
    expect(h.get('subject')).toMatch(/^\[Cordon #inc-20260301-a1b2c3d4\] .*web-01/);
    expect(h.get('x-cordon-incident')).toBe('inc-20260301-a1b2c3d4');
    expect(h.get('auto-submitted')).toBe('auto-generated');
    expect(h.get('reply-to')).toBe('abuse-replies@hoster.example');
    expect(h.get('from')).toBe('Hoster Abuse Desk <abuse@hoster.example>');
    expect(h.get('content-type')).toMatch(/^multipart\/mixed/);

    const parts = multipartParts(message);
    expect(parts.map((p) => p.headers.get('content-type')?.split(';')[0])).toEqual(['text/plain', 'message/rfc822']);
    expect(got.raw.toString('latin1')).not.toMatch(/text\/html/i);
    const [text, attachment] = parts as [ReturnType<typeof parseMime>, ReturnType<typeof parseMime>];
    expect(decodedBody(text).toString('utf8').replace(/\r\n/g, '\n')).toBe(rendered.text);
    expect(attachment.headers.get('content-disposition')).toMatch(/^attachment; filename=complaint-c-1\.eml$/);
    expect(attachment.headers.get('content-transfer-encoding')).toBe('8bit');
    expect(decodedBody(attachment).equals(Buffer.from(RAW_CRLF, 'utf8'))).toBe(true);
  });

  it('keeps a complaint SMTP would alter (bare LF, no final newline) byte for byte by sending it base64', async () => {
    const input = sampleInput();
    const { message } = await sendAndReceive({ ...input, complaint: { ...input.complaint!, raw: RAW_LF } }, 8);
    const attachment = multipartParts(message)[1]!;
    expect(attachment.headers.get('content-type')).toMatch(/^message\/rfc822/);
    expect(attachment.headers.get('content-transfer-encoding')).toBe('base64');
    expect(decodedBody(attachment).equals(Buffer.from(RAW_LF, 'utf8'))).toBe(true);
  });

  it('sends every other template as one plain-text part', async () => {
    for (const template of ['escalated', 'enforced', 'released', 'closed', 'dismissed'] as const) {
      const { rendered, message } = await sendAndReceive(sampleInput({ template, actions: [{ kind: 'isolate' }] }), 9);
      expect(message.headers.get('content-type')).toMatch(/^text\/plain; charset=utf-8/);
      expect(message.headers.get('x-cordon-incident')).toBe('inc-20260301-a1b2c3d4');
      expect(decodedBody(message).toString('utf8').replace(/\r\n/g, '\n')).toBe(rendered.text);
    }
  });

  it('maps a 5xx to refused and a 4xx to transient', async () => {
    for (const [reply, kind] of [
      [550, 'refused'],
      [451, 'transient'],
    ] as const) {
      sink.mode = { reply };
      const err = await sender.send(TO, renderMail(sampleInput()), { messageId: outboxMessageId(10, REF) }).catch((e: unknown) => e);
      expect(isCordonError(err, kind)).toBe(true);
    }
    sink.mode = { accept: true };
  });

  it('maps a relay that is down to transient', async () => {
    const down = new MailSender(config(await freePort()));
    const err = await down.send(TO, renderMail(sampleInput()), { messageId: outboxMessageId(11, REF) }).catch((e: unknown) => e);
    expect(isCordonError(err, 'transient')).toBe(true);
    down.close();
  });
});
