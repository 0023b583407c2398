import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMailPayload, parseOutboxMail } from '../../../controller/mail/parseMailPayload.js';
import { renderMail, renderOutboxMail, type MailComplaint } from '../../../controller/mail/renderMail.js';
import type { StatementInput } from '../../../controller/mail/statementOfReasons.js';
import { DESK, sampleIncident, sampleInput, samplePayload, T0 } from './fixtures.js';

const flat = (s: string) => s.replace(/\s+/g, ' ');
const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
const URL = `https://abuse.hoster.example/c/${'A'.repeat(43)}`;
const at = (iso: string) => new Date(iso);

/** A complaint as IncidentService snapshots it: the customer's own part only. */
function complaint(n: number, over: Partial<MailComplaint> = {}): MailComplaint {
  return {
    id: `c-${n}`,
    raw: `Source: 203.0.113.${n}\nObserved spam run\n`,
    partial: true,
    reporter: `Reporter ${n}`,
    category: 'spam',
    receivedAt: at(`2026-03-01T1${n}:00:00Z`),
    ip: `203.0.113.${n}`,
    eventTime: at(`2026-03-01T0${n}:15:00Z`),
    ...over,
  };
}

const tz = process.env.TZ;
beforeAll(() => void (process.env.TZ = 'Asia/Kathmandu'));
afterAll(() => void (tz === undefined ? delete process.env.TZ : (process.env.TZ = tz)));

describe('the page link', () => {
  it('is the first way to answer a notice, on a line of its own; replies are still accepted', () => {
    const t = renderMail(sampleInput({ pageUrl: URL })).text;
    expect(t).toContain(`Answer on this page:\n  ${URL}\n`);
    expect(t.indexOf(URL)).toBeLessThan(t.indexOf('reply to this mail'));
    expect(flat(t)).toContain('Or reply to this mail and keep [Cordon #inc-20260301-a1b2c3d4] in the subject.');
    expect(renderMail(sampleInput()).text).not.toContain('/c/');
  });

  it('is made at send time from the row link id; the row holds no URL and no token', () => {
    const row = viaJson(samplePayload({ linkId: 'link-1' }));
    expect(JSON.stringify(row)).not.toContain('/c/');
    const seen: string[] = [];
    const mail = renderOutboxMail(parseOutboxMail(row), DESK, (id) => (seen.push(id), URL));
    expect(seen).toEqual(['link-1']);
    expect(mail.text).toContain(URL);
    // The page switched off since: the mail still goes, without a link.
    expect(renderOutboxMail(parseOutboxMail(row), DESK).text).not.toContain('Answer on this page');
  });

  it('appears in the escalated and enforced mails too', () => {
    for (const template of ['escalated', 'enforced'] as const) {
      const t = renderMail(sampleInput({ template, incident: sampleIncident({ state: 'enforced' }), actions: [{ kind: 'smtp_block' }], pageUrl: URL })).text;
      expect(t).toContain(`\n  ${URL}\n`);
    }
  });
});

describe('the notice names what was reported', () => {
  it('the reported address and the event time the reporter gives, besides our receipt time', () => {
    const t = flat(renderMail(sampleInput({ complaint: complaint(7, { partial: false }) })).text);
    expect(t).toContain('The reported address is 203.0.113.7.');
    expect(t).toContain('The reporter gives the time of the event as 2026-03-01T07:15:00Z.');
    expect(t).toContain('received 2026-03-01T17:00:00Z');
  });

  it('lists each complaint already on the incident, each attached', () => {
    const m = renderMail(sampleInput({ complaint: complaint(1), complaints: [complaint(2), complaint(3, { eventTime: undefined })] }));
    const t = flat(m.text);
    expect(t).toContain('We received 3 complaints about spam');
    expect(t).toContain('203.0.113.1: event 2026-03-01T01:15:00Z, received 2026-03-01T11:00:00Z, reported by Reporter 1');
    expect(t).toContain('203.0.113.2: event 2026-03-01T02:15:00Z, received 2026-03-01T12:00:00Z, reported by Reporter 2');
    expect(t).toContain('203.0.113.3: event time not given, received 2026-03-01T13:00:00Z');
    expect(m.attachments.map((a) => a.filename)).toEqual(['complaint-c-1.txt', 'complaint-c-2.txt', 'complaint-c-3.txt']);
  });

  it('never shows another network: only the customer part of a many-network report travels', () => {
    // The whole report named 198.51.100.9 (someone else's); IncidentService snapshots the excerpt only.
    const own = complaint(4, { raw: 'ip,time\r\n203.0.113.4,2026-03-01T04:15:00Z\r\n' });
    const m = renderMail(sampleInput({ complaint: own, complaints: [complaint(5)] }));
    const all = m.text + m.subject + m.attachments.map((a) => a.content).join('');
    expect(all).not.toContain('198.51.100.9');
    expect(flat(m.text)).toContain('only the part about your server is attached');
  });

  it('states the evidence of a complaint an operator entered, in the body', () => {
    const t = renderMail(sampleInput({ complaint: complaint(6, { operatorEvidence: 'NetFlow: 40k SYN/s from 203.0.113.6 to 192.0.2.80 at 06:10' }) })).text;
    expect(t).toContain('Evidence recorded by our abuse desk for 203.0.113.6:\n    NetFlow: 40k SYN/s from 203.0.113.6 to 192.0.2.80 at 06:10');
  });

  it('re-sent after a bounce: says the earlier notice never arrived and counts the deadlines from this one', () => {
    const t = flat(renderMail(sampleInput({ incident: sampleIncident({ noticeUndeliveredAt: T0 }) })).text);
    expect(t).toContain('Our earlier notice of this incident could not be delivered, so its deadlines did not run.');
    expect(t).not.toContain('Deadlines (UTC):');
  });
});

describe('complaint_digest', () => {
  const digest = (over = {}) => renderMail(sampleInput({ template: 'complaint_digest', complaint: undefined, complaints: [complaint(1), complaint(2)], pageUrl: URL, ...over }));

  it('lists every complaint that joined, with address, event time, receipt time and reporter, each attached', () => {
    const m = digest();
    const t = flat(m.text);
    expect(m.subject).toBe('[Cordon #inc-20260301-a1b2c3d4] 2 further complaints about server web-01: spam');
    expect(t).toContain('2 more complaints about spam');
    expect(t).toContain('203.0.113.1: event 2026-03-01T01:15:00Z, received 2026-03-01T11:00:00Z, reported by Reporter 1');
    expect(t).toContain('203.0.113.2: event 2026-03-01T02:15:00Z, received 2026-03-01T12:00:00Z, reported by Reporter 2');
    expect(m.attachments.map((a) => a.content)).toEqual([complaint(1).raw, complaint(2).raw]);
    expect(m.text).toContain(URL);
    expect(t).toContain('its deadlines stay as they were');
  });

  it('is deterministic, and refuses to render with nothing to list', () => {
    expect(digest()).toEqual(digest());
    expect(() => digest({ complaints: [] })).toThrow(expect.objectContaining({ kind: 'invalid', field: 'complaints' }));
  });

  it('says nothing of deadlines once the incident is past them', () => {
    expect(flat(digest({ incident: sampleIncident({ state: 'enforced' }) }).text)).not.toContain('deadlines stay');
  });
});

describe('statement of reasons', () => {
  const facts: StatementInput['facts'] = [
    { ip: '203.0.113.7', eventTime: at('2026-03-01T07:15:00Z'), receivedAt: at('2026-03-01T09:30:00Z'), reporter: 'CERT Beispiel', observed: 'arf: spam run, 1200 messages to 40 domains' },
    { ip: '203.0.113.7', receivedAt: at('2026-03-01T11:00:00Z'), reporter: 'Spamtrap Inc', observed: 'x-arf: spamtrap hit' },
  ];
  const restriction = (statement: StatementInput, over = {}) =>
    flat(
      renderMail(
        sampleInput({
          template: 'enforced',
          incident: sampleIncident({ state: 'enforced', escalatedAt: at('2026-03-02T09:31:00Z'), overdue: true, step: 0, complaintCount: 2 }),
          actions: [{ kind: 'smtp_block' }],
          scope: { otherHosts: 3, otherRestricted: [] },
          statement,
          pageUrl: URL,
          desk: { ...DESK, statement: { contractClause: 'clause 7.2 (network abuse) of our terms', redress: 'You may also turn to the Example Dispute Board.' } },
          ...over,
        }),
      ).text,
    );

  it('an automated step: facts, ground, automated, scope and how to contest, each present', () => {
    const t = restriction({ facts, total: 2, decision: { by: 'policy', step: 1, action: { kind: 'smtp_block' }, trigger: 'deadline' } });
    expect(t).toContain('STATEMENT OF REASONS (EU Digital Services Act, Article 17)');
    // Facts: the complaints with dates, addresses and what was observed.
    expect(t).toContain('Facts: 2 complaints about spam from server web-01');
    expect(t).toContain('203.0.113.7, event 2026-03-01T07:15:00Z, received 2026-03-01T09:30:00Z, from CERT Beispiel: arf: spam run, 1200 messages to 40 domains');
    expect(t).toContain('203.0.113.7, event time not given, received 2026-03-01T11:00:00Z, from Spamtrap Inc: x-arf: spamtrap hit');
    // Ground: the rung and the contract clause.
    expect(t).toContain('Ground: ladder step 1 of our policy for spam: outbound SMTP (ports 25, 465, 587) blocked.');
    expect(t).toContain('The restriction relies on clause 7.2 (network abuse) of our terms.');
    // Automated, and after which deadline.
    expect(t).toContain('Automated decision: yes. Our policy applied this step by itself because the deadline to acknowledge the complaint passed at 2026-03-02T09:30:00Z');
    // Scope, truthfully.
    expect(t).toContain('the restriction applies to server web-01 only');
    expect(t).toContain('your 3 other servers are not affected');
    // How to contest: the page, a reply, and the other redress.
    expect(t).toContain(`How to contest it: on the page of this incident, answer "false positive" with your evidence`);
    expect(t).toContain(URL);
    expect(t).toContain('or reply to this mail keeping [Cordon #inc-20260301-a1b2c3d4] in the subject.');
    expect(t).toContain('You may also turn to the Example Dispute Board.');
  });

  it('a person decision names the operator, and the second operator when four eyes applied', () => {
    const t = restriction(
      { facts, total: 2, decision: { by: 'operator', operator: 'olga', reason: 'spam continues during the plan' } },
      { approval: { id: 'ap-1', requestedBy: 'olga', approvedBy: 'omar' } },
    );
    expect(t).toContain('Ground: the decision of an abuse desk operator, who gave this reason: spam continues during the plan.');
    expect(t).toContain('Automated decision: no. A person decided it: olga, operator of our abuse desk, approved by a second operator, omar (approval ap-1).');
    expect(t).not.toContain('Automated decision: yes');
  });

  it('an immediate category: automated at intake, no deadline claimed', () => {
    const t = restriction(
      { facts, total: 5, decision: { by: 'policy', step: 1, action: { kind: 'isolate' }, trigger: 'immediate' } },
      { incident: sampleIncident({ category: 'malware', state: 'enforced', escalatedAt: T0, step: 0 }), actions: [{ kind: 'isolate' }] },
    );
    expect(t).toContain('(the first 2 listed)');
    expect(t).toContain('complaints about malware distribution from a trusted reporter are acted on at once');
    expect(t).not.toContain('deadline to');
  });

  it('is not there when the mail restricts nothing, and survives the outbox as JSON', () => {
    const statement: StatementInput = { facts, total: 2, decision: { by: 'policy', step: 1, action: { kind: 'smtp_block' }, trigger: 'deadline' } };
    expect(renderMail(sampleInput({ template: 'escalated', actions: [], statement })).text).not.toContain('STATEMENT OF REASONS');
    const row = samplePayload({ template: 'enforced', incident: sampleIncident({ state: 'enforced' }), actions: [{ kind: 'smtp_block' }], statement });
    expect(parseMailPayload(viaJson(row))).toEqual(row);
  });

  it('keeps every line readable: long evidence is cut, never a 10 kB line', () => {
    const long = { ...facts[0]!, observed: 'x '.repeat(5000) };
    const m = renderMail(sampleInput({ template: 'enforced', actions: [{ kind: 'smtp_block' }], statement: { facts: [long], total: 1, decision: { by: 'operator', operator: 'olga', reason: 'r' } } }));
    expect(m.text.length).toBeLessThan(5000);
    expect(m.text).toContain('[...]');
  });
});

describe('parseMailPayload of the new fields', () => {
  it('round-trips complaints with addresses and event times, a link id, and a digest', () => {
    const row = samplePayload({ template: 'complaint_digest', complaint: undefined, complaints: [complaint(1), complaint(2, { operatorEvidence: 'seen' })], linkId: 'l-1' });
    expect(parseMailPayload(viaJson(row))).toEqual(row);
  });

  it('names the bad field', () => {
    const bad = (mutate: (p: Record<string, any>) => void) => {
      const p = viaJson(samplePayload({ complaints: [complaint(1)], statement: { facts: [], total: 0, decision: { by: 'operator', operator: 'o', reason: 'r' } } })) as Record<string, any>;
      mutate(p);
      return () => parseMailPayload(p);
    };
    expect(bad((p) => (p.complaints[0].eventTime = 'yesterday'))).toThrow(expect.objectContaining({ field: 'complaints.0.eventTime' }));
    expect(bad((p) => (p.complaints = 'x'))).toThrow(expect.objectContaining({ field: 'complaints' }));
    expect(bad((p) => (p.statement.decision.by = 'magic'))).toThrow(expect.objectContaining({ field: 'statement.decision.by' }));
    expect(bad((p) => (p.statement.decision = { by: 'policy', step: 0, action: { kind: 'isolate' }, trigger: 'deadline' }))).toThrow(
      expect.objectContaining({ field: 'statement.decision.step' }),
    );
    expect(bad((p) => (p.linkId = 42))).toThrow(expect.objectContaining({ field: 'linkId' }));
  });
});
