import { afterEach, describe, expect, it } from 'vitest';
import { MailSender, outboxMessageId } from '../../controller/mail/MailSender.js';
import { NEVER } from '../../controller/mail/OutboxSource.js';
import { OutboxWorker } from '../../controller/mail/OutboxWorker.js';
import { DESK, recordingLogger, samplePayload, T0 } from '../unit/mail/fixtures.js';
import { MemoryOutbox } from '../unit/mail/MemoryOutbox.js';
import { decodedBody, multipartParts, parseMime } from '../unit/mail/parseMime.js';
import { freePort, SmtpSink } from '../unit/mail/smtpSink.js';
import { waitFor } from '../helpers/waitFor.js';

const MIN = 60_000;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The outbox worker wired as the controller would, against a real SMTP server on `port`. */
function wire(port: number, pollIntervalMs = 20) {
  let now = T0;
  const outbox = new MemoryOutbox();
  const sender = new MailSender({ host: '127.0.0.1', port, secure: false, from: DESK.from, replyTo: DESK.replyTo, connectionTimeoutMs: 2_000 });
  const { log, lines } = recordingLogger();
  const worker = new OutboxWorker({ source: outbox, transport: sender, desk: DESK, clock: { now: () => now }, log, config: { pollIntervalMs } });
  cleanups.push(() => worker.stop(), () => sender.close());
  return { outbox, worker, lines, advance: (ms: number) => void (now = new Date(now.getTime() + ms)) };
}

async function startSink(port?: number): Promise<SmtpSink> {
  const sink = await SmtpSink.start(port);
  cleanups.push(() => sink.close());
  return sink;
}

describe('OutboxWorker with a real SMTP server', () => {
  it('delivers a queued notice: the row is done, the server has it with the row Message-ID and the complaint intact', async () => {
    const sink = await startSink();
    const w = wire(sink.port);
    const id = w.outbox.add(samplePayload(), T0);
    w.worker.start();
    await waitFor('the row to be done', () => w.outbox.row(id).done);
    expect(sink.received).toHaveLength(1);
    const message = parseMime(sink.received[0]!.raw);
    expect(message.headers.get('message-id')).toBe(outboxMessageId(id, w.outbox.row(id).ref));
    expect(message.headers.get('x-cordon-incident')).toBe('inc-20260301-a1b2c3d4');
    expect(decodedBody(multipartParts(message)[1]!).equals(Buffer.from(samplePayload().complaint!.raw, 'utf8'))).toBe(true);
  });

  it('server down: the mail waits 1 min, then goes out once the server is up, exactly once', async () => {
    const port = await freePort();
    const w = wire(port, 60_000);
    const id = w.outbox.add(samplePayload(), T0);
    expect(await w.worker.runOnce()).toBe(1);
    expect(w.outbox.row(id)).toMatchObject({ done: false, attempts: 1, retryAt: new Date(T0.getTime() + MIN) });
    expect(w.lines.find((l) => l.msg === 'mail not delivered; will retry')).toBeDefined();

    const sink = await startSink(port);
    expect(await w.worker.runOnce()).toBe(0); // up, but not due before the minute is over
    w.advance(MIN);
    expect(await w.worker.runOnce()).toBe(1);
    expect(w.outbox.row(id).done).toBe(true);
    expect(sink.received).toHaveLength(1);
    w.advance(60 * MIN);
    expect(await w.worker.runOnce()).toBe(0);
    expect(sink.dataCount).toBe(1);
  });

  it('a 550 refusal is not retried', async () => {
    const sink = await startSink();
    sink.mode = { reply: 550 };
    const w = wire(sink.port);
    const id = w.outbox.add(samplePayload(), T0);
    await w.worker.runOnce();
    expect(w.outbox.row(id)).toMatchObject({ done: false, retryAt: NEVER });
    expect(w.outbox.row(id).errors[0]).toMatch(/^not retried \(refused\)/);
    expect(w.lines.find((l) => l.level === 50)).toMatchObject({ outboxId: id, kind: 'refused' });
    sink.mode = { accept: true };
    w.advance(24 * 60 * MIN);
    await w.worker.runOnce();
    expect(sink.dataCount).toBe(1);
    expect(sink.received).toHaveLength(0);
  });

  it('stop() during a send waits for the server to answer, and the row ends done', async () => {
    const sink = await startSink();
    let release!: () => void;
    sink.mode = { hold: new Promise<void>((r) => (release = r)) };
    const w = wire(sink.port);
    const id = w.outbox.add(samplePayload(), T0);
    w.worker.start();
    await waitFor('the DATA to reach the server', () => sink.dataCount === 1);
    let stopped = false;
    const stopping = w.worker.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(stopped).toBe(false);
    sink.mode = { accept: true };
    release();
    await stopping;
    expect(w.outbox.row(id).done).toBe(true);
    expect(sink.received).toHaveLength(1);
  });
});
