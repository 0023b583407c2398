import { describe, expect, it } from 'vitest';
import { parseMailPayload } from '../../../controller/mail/parseMailPayload.js';
import { renderMail, type MailComplaint } from '../../../controller/mail/renderMail.js';
import type { StatementFact } from '../../../controller/mail/statementOfReasons.js';
import { DESK, sampleIncident, sampleInput, samplePayload } from './fixtures.js';

/**
 * A receipt time (the report states no event time; its own date stands in)
 * is never told to the customer as the time the reporter gives for the event.
 */
const flat = (s: string) => s.replace(/\s+/g, ' ');
const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
const at = (iso: string) => new Date(iso);

function complaint(n: number, over: Partial<MailComplaint> = {}): MailComplaint {
  return {
    id: `c-${n}`,
    raw: `Source: 203.0.113.${n}\nObserved spam run\n`,
    partial: false,
    reporter: `Reporter ${n}`,
    category: 'spam',
    receivedAt: at(`2026-03-01T1${n}:00:00Z`),
    ip: `203.0.113.${n}`,
    eventTime: at(`2026-03-01T0${n}:15:00Z`),
    ...over,
  };
}

describe('the event time in the customer\'s mail', () => {
  it('a notice gives a stated event time as the reporter\'s', () => {
    const t = flat(renderMail(sampleInput({ complaint: complaint(7) })).text);
    expect(t).toContain('The reporter gives the time of the event as 2026-03-01T07:15:00Z.');
    expect(t).not.toContain('does not state when the event happened');
  });

  it('a notice of a report that states no event time says so, gives the report\'s own date and when we received it', () => {
    const t = flat(renderMail(sampleInput({ complaint: complaint(7, { eventTimeSource: 'receipt' }) })).text);
    expect(t).not.toContain('The reporter gives the time of the event');
    expect(t).toContain('The report does not state when the event happened; the report itself is dated 2026-03-01T07:15:00Z.');
    expect(t).toContain('received 2026-03-01T17:00:00Z');
  });

  it('a notice of several complaints marks the receipt time in its line, and only there', () => {
    const m = renderMail(sampleInput({ complaint: complaint(1), complaints: [complaint(2, { eventTimeSource: 'receipt' }), complaint(3, { eventTime: undefined })] }));
    const t = flat(m.text);
    expect(t).toContain('203.0.113.1: event 2026-03-01T01:15:00Z, received 2026-03-01T11:00:00Z, reported by Reporter 1');
    expect(t).toContain('203.0.113.2: event time not stated in the report (the report is dated 2026-03-01T02:15:00Z), received 2026-03-01T12:00:00Z, reported by Reporter 2');
    expect(t).toContain('203.0.113.3: event time not given, received 2026-03-01T13:00:00Z');
  });

  it('the statement of reasons states a receipt time as the report\'s date, a stated one as the event', () => {
    const facts: StatementFact[] = [
      { ip: '203.0.113.7', eventTime: at('2026-03-01T07:15:00Z'), receivedAt: at('2026-03-01T09:30:00Z'), reporter: 'CERT Beispiel', observed: 'arf: spam run' },
      { ip: '203.0.113.7', eventTime: at('2026-03-01T10:59:00Z'), eventTimeSource: 'receipt', receivedAt: at('2026-03-01T11:00:00Z'), reporter: 'Spamtrap Inc', observed: 'plain: spam' },
    ];
    const t = flat(
      renderMail(
        sampleInput({
          template: 'enforced',
          incident: sampleIncident({ state: 'enforced', escalatedAt: at('2026-03-02T09:31:00Z'), overdue: true, step: 0, complaintCount: 2 }),
          actions: [{ kind: 'smtp_block' }],
          scope: { otherHosts: 0, otherRestricted: [] },
          statement: { facts, total: 2, decision: { by: 'policy', step: 1, action: { kind: 'smtp_block' }, trigger: 'deadline' } },
          pageUrl: 'https://abuse.hoster.example/c/x',
          desk: { ...DESK, statement: { contractClause: 'clause 7.2', redress: 'none' } },
        }),
      ).text,
    );
    expect(t).toContain('203.0.113.7, event 2026-03-01T07:15:00Z, received 2026-03-01T09:30:00Z, from CERT Beispiel');
    expect(t).toContain('203.0.113.7, event time not stated in the report (the report is dated 2026-03-01T10:59:00Z), received 2026-03-01T11:00:00Z, from Spamtrap Inc');
  });

  it('the mark survives the outbox (JSON) and only a receipt mark with a time is kept', () => {
    const row = samplePayload({ complaint: complaint(7, { eventTimeSource: 'receipt' }), complaints: [complaint(8)] });
    const back = parseMailPayload(viaJson(row));
    expect(back.complaint?.eventTimeSource).toBe('receipt');
    expect(back.complaints?.[0]?.eventTimeSource).toBeUndefined();
    expect(flat(renderMail({ ...back, desk: DESK }).text)).toContain('203.0.113.7: event time not stated in the report (the report is dated 2026-03-01T07:15:00Z)');
    // A mark without a time says nothing about a time: it is dropped, not rendered as a date.
    const bare = viaJson(samplePayload({ complaint: complaint(7, { eventTime: undefined }) })) as { complaint: Record<string, unknown> };
    bare.complaint.eventTimeSource = 'receipt';
    expect(parseMailPayload(bare).complaint?.eventTimeSource).toBeUndefined();
  });
});
