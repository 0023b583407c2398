import { describe, expect, it } from 'vitest';
import type { MailRecipient, MailTransport } from '../../../controller/mail/MailSender.js';
import { NEVER } from '../../../controller/mail/OutboxSource.js';
import { outboxMessageId } from '../../../controller/mail/MailSender.js';
import { OutboxWorker, retryDelayMs } from '../../../controller/mail/OutboxWorker.js';
import type { RenderedMail } from '../../../controller/mail/renderMail.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { DESK, recordingLogger, samplePayload, T0 } from './fixtures.js';
import { MemoryOutbox } from './MemoryOutbox.js';

const MIN = 60_000;

/** A transport that answers from a script: each call takes the next outcome (the last one repeats). */
class ScriptedTransport implements MailTransport {
  readonly sent: { to: MailRecipient; mail: RenderedMail; messageId: string }[] = [];
  constructor(private readonly outcomes: (Error | 'ok' | Promise<void>)[] = ['ok']) {}
  async send(to: MailRecipient, mail: RenderedMail, opts: { messageId: string }): Promise<string> {
    const outcome = this.outcomes.length > 1 ? this.outcomes.shift()! : this.outcomes[0]!;
    if (outcome instanceof Error) throw outcome;
    if (outcome instanceof Promise) await outcome;
    this.sent.push({ to, mail, messageId: opts.messageId });
    return opts.messageId;
  }
}

function setup(outcomes?: (Error | 'ok' | Promise<void>)[], config = {}) {
  let now = T0;
  const clock = { now: () => now };
  const outbox = new MemoryOutbox();
  const transport = new ScriptedTransport(outcomes);
  const { log, lines } = recordingLogger();
  const worker = new OutboxWorker({ source: outbox, transport, desk: DESK, clock, log, config: { pollIntervalMs: 60_000, ...config } });
  return { outbox, transport, worker, lines, advance: (ms: number) => void (now = new Date(now.getTime() + ms)) };
}

const transient = () => new CordonError('transient', 'connect ECONNREFUSED 127.0.0.1:2525');

describe('retryDelayMs', () => {
  it('doubles from 1 min and stops at 1 h', () => {
    const cfg = { retryInitialMs: MIN, retryMaxMs: 60 * MIN };
    expect([1, 2, 3, 6, 7, 20, 1000].map((n) => retryDelayMs(n, cfg) / MIN)).toEqual([1, 2, 4, 32, 60, 60, 60]);
  });
});

describe('OutboxWorker', () => {
  it('renders with the desk, sends to the customer with the row-derived Message-ID, marks done', async () => {
    const t = setup();
    const id = t.outbox.add(samplePayload(), T0);
    expect(await t.worker.runOnce()).toBe(1);
    expect(t.transport.sent).toHaveLength(1);
    const [s] = t.transport.sent;
    expect(s!.to).toEqual({ name: 'Jürgen Müller', address: 'ops@customer.example' });
    expect(s!.messageId).toBe(outboxMessageId(id, t.outbox.row(id).ref));
    expect(s!.messageId).toMatch(new RegExp(`^<outbox-${id}\\.[0-9a-f]{32}@cordon>$`));
    expect(s!.mail.text).toContain('Hoster Abuse Desk');
    expect(t.outbox.row(id).done).toBe(true);
    expect(t.lines.find((l) => l.msg === 'mail delivered')).toMatchObject({ outboxId: id, template: 'notice', messageId: outboxMessageId(id, t.outbox.row(id).ref) });
  });

  it('retries a transient failure after 1 min, then 2 min, and delivers once the relay is back', async () => {
    const t = setup([transient(), transient(), 'ok']);
    const id = t.outbox.add(samplePayload(), T0);
    await t.worker.runOnce();
    expect(t.outbox.row(id).retryAt).toEqual(new Date(T0.getTime() + MIN));
    t.advance(MIN - 1);
    expect(await t.worker.runOnce()).toBe(0); // not due yet
    t.advance(1);
    await t.worker.runOnce();
    expect(t.outbox.row(id).retryAt).toEqual(new Date(T0.getTime() + 3 * MIN));
    t.advance(2 * MIN);
    await t.worker.runOnce();
    expect(t.outbox.row(id).done).toBe(true);
    expect(t.transport.sent).toHaveLength(1);
    expect(t.lines.filter((l) => l.msg === 'mail not delivered; will retry')).toHaveLength(2);
  });

  it('gives up after maxAttempts: failed with a far-future retry, an error logged, the row kept', async () => {
    const t = setup([transient()], { maxAttempts: 3 });
    const id = t.outbox.add(samplePayload(), T0);
    for (let i = 0; i < 3; i++) {
      await t.worker.runOnce();
      t.advance(60 * MIN);
    }
    const row = t.outbox.row(id);
    expect(row.retryAt).toEqual(NEVER);
    expect(row.done).toBe(false);
    expect(row.errors.at(-1)).toMatch(/^given up after 3 attempts: /);
    expect(t.lines.find((l) => l.level === 50)).toMatchObject({ outboxId: id, attempt: 3, kind: 'transient' });
  });

  it('does not retry a refusal or an unreadable row', async () => {
    const t = setup([new CordonError('refused', '550 no such user')]);
    const refused = t.outbox.add(samplePayload(), T0);
    const unreadable = t.outbox.add({ ...samplePayload(), template: 'unknown' }, T0);
    await t.worker.runOnce();
    t.advance(24 * 60 * MIN);
    expect(await t.worker.runOnce()).toBe(0);
    expect(t.outbox.row(refused)).toMatchObject({ retryAt: NEVER, attempts: 1, errors: ['not retried (refused): 550 no such user'] });
    expect(t.outbox.row(unreadable).retryAt).toEqual(NEVER);
    expect(t.outbox.row(unreadable).errors[0]).toMatch(/not retried \(invalid\): template: /);
  });

  it('a crash between send and markDone sends again with the same Message-ID (at-least-once)', async () => {
    const t = setup();
    const id = t.outbox.add(samplePayload(), T0);
    t.outbox.markDone = async () => {
      throw new Error('SQLITE_BUSY');
    };
    await t.worker.runOnce();
    expect(t.lines.find((l) => l.level === 50)?.msg).toMatch(/not marked done/);
    t.advance(5 * MIN); // the lease runs out
    await t.worker.runOnce();
    expect(t.transport.sent.map((s) => s.messageId)).toEqual([outboxMessageId(id, t.outbox.row(id).ref), outboxMessageId(id, t.outbox.row(id).ref)]);
  });

  it('start runs a pass at once, kick runs another, stop waits for the send in flight and leaves the rest leased', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const t = setup(['ok', held, 'ok'], { batchSize: 5 });
    t.outbox.add(samplePayload(), T0);
    t.worker.start();
    await expect.poll(() => t.transport.sent.length).toBe(1);
    t.outbox.add(samplePayload(), T0);
    t.outbox.add(samplePayload(), T0);
    t.worker.kick(); // poll interval is a minute: only the kick can pick these up
    await expect.poll(() => t.outbox.calls.filter((c) => c === 'claimDue').length).toBe(2);
    let stopped = false;
    const stopping = t.worker.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false); // the second mail is still in the relay's hands
    release();
    await stopping;
    expect(t.transport.sent).toHaveLength(2);
    expect(t.outbox.row(2).done).toBe(true);
    expect(t.outbox.row(3)).toMatchObject({ done: false, attempts: 1 });
    expect(t.outbox.row(3).leasedUntil).toBeDefined();
    t.worker.kick();
    await new Promise((r) => setTimeout(r, 20));
    expect(t.outbox.calls.filter((c) => c === 'claimDue')).toHaveLength(2);
  });

  it('stops feeding a row that was claimed more than maxAttempts times without an outcome (a poison row)', async () => {
    const t = setup(['ok'], { maxAttempts: 3 });
    const id = t.outbox.add(samplePayload(), T0);
    t.outbox.row(id).attempts = 3; // three claims whose worker died mid-send
    await t.worker.runOnce();
    expect(t.transport.sent).toHaveLength(0);
    expect(t.outbox.row(id).retryAt).toEqual(NEVER);
    expect(t.outbox.row(id).errors[0]).toMatch(/^not retried \(internal\): claimed 4 times/);
  });

  it('survives an outbox that cannot be read', async () => {
    const t = setup();
    t.outbox.claimDue = async () => {
      throw new Error('SQLITE_IOERR');
    };
    expect(await t.worker.runOnce()).toBe(0);
    expect(t.lines.find((l) => l.level === 50)?.msg).toMatch(/cannot claim mail/);
  });
});
