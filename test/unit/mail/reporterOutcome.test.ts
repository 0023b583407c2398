import { describe, expect, it } from 'vitest';
import { OutboxWorker } from '../../../controller/mail/OutboxWorker.js';
import type { MailTransport } from '../../../controller/mail/MailSender.js';
import { parseOutboxMail } from '../../../controller/mail/parseMailPayload.js';
import type { RenderedMail } from '../../../controller/mail/renderMail.js';
import { renderReporterOutcome, type ReporterOutcomePayload } from '../../../controller/mail/renderReporterOutcome.js';
import { DESK, recordingLogger, T0 } from './fixtures.js';
import { MemoryOutbox } from './MemoryOutbox.js';

const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function outcome(over: Partial<ReporterOutcomePayload> = {}): ReporterOutcomePayload {
  return {
    template: 'reporter_outcome',
    to: { name: 'Example CERT', email: 'reports@cert.example' },
    reference: 'inc-20260301-a1b2c3d4',
    category: 'spam',
    outcome: 'resolved',
    ips: ['203.0.113.7'],
    firstReceivedAt: T0,
    endedAt: new Date('2026-03-04T10:00:00Z'),
    inReplyTo: 'r-1@cert.example',
    ...over,
  };
}

describe('renderReporterOutcome', () => {
  it('says the outcome, our reference and the reported address, threaded under the report', () => {
    const m = renderReporterOutcome({ ...outcome(), desk: DESK });
    expect(m.subject).toBe('[Cordon #inc-20260301-a1b2c3d4] Outcome of your abuse report about 203.0.113.7');
    expect(m.text).toContain('  - 203.0.113.7');
    expect(m.text.replace(/\s+/g, ' ')).toContain('Outcome: resolved. We acted on the report and the incident was closed at 2026-03-04T10:00:00Z');
    expect(m.headers).toMatchObject({ 'In-Reply-To': '<r-1@cert.example>', 'Auto-Submitted': 'auto-replied', 'X-Cordon-Template': 'reporter_outcome' });
    expect(renderReporterOutcome({ ...outcome(), desk: DESK })).toEqual(m);
  });

  it('words each outcome, and names nothing of the customer', () => {
    for (const o of ['resolved', 'dismissed', 'under_review'] as const) {
      const m = renderReporterOutcome({ ...outcome({ outcome: o }), desk: DESK });
      const all = m.subject + m.text + JSON.stringify(m.headers);
      expect(all).toMatch({ resolved: /Outcome: resolved/, dismissed: /Outcome: dismissed/, under_review: /Outcome: still under review/ }[o]);
      // The payload has no field for them; the render must not invent any (no host id, no "Dear customer").
      expect(all).not.toMatch(/web-01|cust-|X-Cordon-Host|X-Cordon-Incident|Dear/);
    }
  });

  it('refuses a header injection through the Message-ID it threads under', () => {
    const m = renderReporterOutcome({ ...outcome({ inReplyTo: 'x@y>\r\nBcc: victim@example.org' }), desk: DESK });
    expect(m.headers['In-Reply-To']).toBeUndefined();
  });
});

describe('parseOutboxMail of a reporter outcome', () => {
  it('round-trips through JSON', () => {
    expect(parseOutboxMail(viaJson(outcome()))).toEqual(outcome());
  });

  it('names the bad field, and refuses an address list or a display name as the address', () => {
    const bad = (mutate: (p: Record<string, any>) => void) => {
      const p = viaJson(outcome()) as Record<string, any>;
      mutate(p);
      return () => parseOutboxMail(p);
    };
    expect(bad((p) => (p.to.email = 'a@b.example, c@d.example'))).toThrow(expect.objectContaining({ kind: 'invalid', field: 'to.email' }));
    expect(bad((p) => (p.to.email = 'CERT <a@b.example>'))).toThrow(expect.objectContaining({ field: 'to.email' }));
    expect(bad((p) => (p.outcome = 'won'))).toThrow(expect.objectContaining({ field: 'outcome' }));
    expect(bad((p) => (p.ips = []))).toThrow(expect.objectContaining({ field: 'ips' }));
    expect(bad((p) => (p.endedAt = 'later'))).toThrow(expect.objectContaining({ field: 'endedAt' }));
    expect(bad((p) => delete p.to)).toThrow(expect.objectContaining({ field: 'to' }));
  });
});

describe('OutboxWorker and a reporter outcome', () => {
  it('sends it to the reporter address, not to any customer', async () => {
    const sent: { to: string; mail: RenderedMail }[] = [];
    const transport: MailTransport = { send: async (to, mail) => (sent.push({ to: to.address, mail }), 'id') };
    const outbox = new MemoryOutbox();
    const id = outbox.add(viaJson(outcome()), T0);
    const worker = new OutboxWorker({ source: outbox, transport, desk: DESK, clock: { now: () => T0 }, log: recordingLogger().log });
    await worker.runOnce();
    expect(outbox.row(id).done).toBe(true);
    expect(sent.map((s) => s.to)).toEqual(['reports@cert.example']);
  });
});
