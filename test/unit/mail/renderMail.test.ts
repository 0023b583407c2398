import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MailTemplate } from '../../../controller/incidents/lifecycle.js';
import { describeAction, formatRate } from '../../../controller/mail/describeAction.js';
import { renderMail } from '../../../controller/mail/renderMail.js';
import { parseMailPayload } from '../../../controller/mail/parseMailPayload.js';
import { isCordonError } from '../../../proto/runtime/CordonError.js';
import { RAW_CRLF, RAW_LF, sampleIncident, sampleInput } from './fixtures.js';

const TEMPLATES: MailTemplate[] = ['notice', 'complaint_digest', 'escalated', 'enforced', 'released', 'closed', 'dismissed'];
const flat = (s: string) => s.replace(/\s+/g, ' ');

// Rendering must not depend on the machine's zone: run these in one far from UTC.
const tz = process.env.TZ;
beforeAll(() => void (process.env.TZ = 'America/St_Johns'));
afterAll(() => void (tz === undefined ? delete process.env.TZ : (process.env.TZ = tz)));

describe('renderMail, every template', () => {
  for (const template of TEMPLATES) {
    it(`${template}: tagged subject, incident header, host named, plain text, UTC only`, () => {
      const m = renderMail(sampleInput({ template, actions: [{ kind: 'smtp_block' }] }));
      expect(m.subject.startsWith('[Cordon #inc-20260301-a1b2c3d4] ')).toBe(true);
      expect(m.subject).toContain('web-01');
      expect(m.headers['X-Cordon-Incident']).toBe('inc-20260301-a1b2c3d4');
      expect(m.text).toContain('web-01');
      expect(m.text.startsWith('Dear Jürgen Müller,\n')).toBe(true);
      expect(m.text).not.toMatch(/<\/?(html|body|p|br|div|a)\b/i);
      for (const stamp of m.text.match(/\d{4}-\d{2}-\d{2}T[\d:.]+\S*/g) ?? []) expect(stamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/);
      expect(m.text).not.toMatch(/GMT|[+-]\d{2}:\d{2}\b(?!:)/);
      for (const line of m.text.split('\n')) expect(line.length).toBeLessThanOrEqual(76);
      expect(m.attachments.length).toBe(template === 'notice' || template === 'complaint_digest' ? 1 : 0);
    });
  }
  it('is deterministic: the same input renders the same mail', () => {
    expect(renderMail(sampleInput())).toEqual(renderMail(sampleInput()));
  });
});

describe('notice', () => {
  it('states both deadlines in UTC ISO 8601', () => {
    const t = flat(renderMail(sampleInput()).text);
    expect(t).toContain('acknowledge by 2026-03-02T09:30:00Z');
    expect(t).toContain('send a plan by 2026-03-04T09:30:00Z');
  });

  it('carries the complaint byte for byte as message/rfc822, CRLF and non-ASCII included', () => {
    for (const raw of [RAW_CRLF, RAW_LF]) {
      const input = sampleInput();
      const [a] = renderMail({ ...input, complaint: { ...input.complaint!, raw } }).attachments;
      expect(a).toMatchObject({ filename: 'complaint-c-1.eml', contentType: 'message/rfc822' });
      expect(Buffer.from(a!.content, 'utf8').equals(Buffer.from(raw, 'utf8'))).toBe(true);
    }
  });

  it('sends a file that is no mail (a CSV, JSON) as text, not as message/rfc822', () => {
    const input = sampleInput();
    const raw = '{"Category":"spam","Source":"203.0.113.10"}\n';
    const m = renderMail({ ...input, complaint: { ...input.complaint!, raw } });
    expect(m.attachments[0]).toMatchObject({ filename: 'complaint-c-1.txt', contentType: 'text/plain; charset=utf-8', content: raw });
    expect(flat(m.text)).toContain('The original complaint is attached unmodified as complaint-c-1.txt.');
  });

  it("says so when it quotes only the customer's part of a many-network report", () => {
    const input = sampleInput();
    const raw = 'timestamp,ip,tag\r\n2026-03-01 01:00:00,203.0.113.10,ssdp\r\n';
    const m = renderMail({ ...input, complaint: { ...input.complaint!, raw, partial: true } });
    expect(m.attachments[0]).toMatchObject({ filename: 'complaint-c-1.txt', content: raw });
    expect(flat(m.text)).toContain('The part of the report about your server is attached as complaint-c-1.txt; the report also concerns other networks, which are not shown.');
    // The flag survives the outbox: stored as JSON, read back by parseMailPayload.
    const stored = JSON.parse(JSON.stringify({ ...input, complaint: { ...input.complaint!, raw, partial: true } }));
    expect(flat(renderMail({ ...parseMailPayload(stored), desk: input.desk }).text)).toContain('the report also concerns other networks');
  });

  it('explains an incident an operator opened without a complaint, with their reason and no attachment', () => {
    const input = sampleInput();
    const m = renderMail({ ...input, complaint: undefined, openedBy: { operator: 'olga', reason: 'outbound DDoS seen by our NetFlow, 2 Gbit/s to 198.51.100.7' } });
    expect(m.subject).toBe('[Cordon #inc-20260301-a1b2c3d4] Abuse incident about server web-01');
    expect(flat(m.text)).toContain('opened this incident about your server web-01');
    expect(flat(m.text)).toContain('The reason given: outbound DDoS seen by our NetFlow, 2 Gbit/s to 198.51.100.7');
    expect(flat(m.text)).toContain('An operator of the abuse desk acts on this server now');
    expect(m.attachments).toEqual([]);
    expect(() => renderMail({ ...input, complaint: undefined })).toThrow(/carries the original complaint, or the reason an operator opened it/);
  });

  it('says how to answer: reply keeping the tag, and the three answers', () => {
    const t = flat(renderMail(sampleInput()).text);
    expect(t).toContain('reply to this mail and keep [Cordon #inc-20260301-a1b2c3d4] in the subject');
    expect(t).toContain('fixed: the cause is removed');
    expect(t).toContain('false positive: the complaint is wrong, with evidence');
    expect(t).toContain('plan: what you will do, and the date');
  });

  it('names the console and how to use it; the check line only when there was a check', () => {
    const t = flat(renderMail(sampleInput()).text);
    expect(t).toContain('IPMI console (BMC) of server web-01 is at 10.255.1.7 (ipmi)');
    expect(t).toContain('Log in to the BMC web interface (https://10.255.1.7/) or use ipmitool sol activate');
    expect(t).toContain('ipmitool -I lanplus -H 10.255.1.7');
    expect(t).not.toContain('answered our check');
    const checked = flat(renderMail(sampleInput({ bmcCheckedAt: new Date('2026-03-01T09:29:12.345Z') })).text);
    expect(checked).toContain('It answered our check at 2026-03-01T09:29:12Z.');
  });

  it('brackets an IPv6 BMC in the URL; says so when no BMC is on record', () => {
    const v6 = sampleInput();
    v6.host = { ...v6.host, bmc: { address: '2001:db8:ff::7', protocol: 'redfish' } };
    expect(renderMail(v6).text).toContain('https://[2001:db8:ff::7]/');
    const none = sampleInput();
    none.host = { id: 'web-01', publicPrefixes: ['203.0.113.0/29'] };
    expect(flat(renderMail(none).text)).toContain('no IPMI console (BMC) is on record for server web-01');
  });

  it('has the termination paragraph only when flagged, with the migration period', () => {
    expect(renderMail(sampleInput()).text).not.toMatch(/termination/i);
    const t = flat(renderMail(sampleInput({ terminationReview: true, migrationDays: 30 })).text);
    expect(t).toContain('Your account is under termination review');
    expect(t).toContain('a 30-day migration period');
  });

  it('warns of a restriction after the deadlines, or says it comes at once for an immediate category', () => {
    expect(flat(renderMail(sampleInput()).text)).toContain('Without an answer by these deadlines we will restrict the network access of this server');
    const now = flat(renderMail(sampleInput({ incident: sampleIncident({ category: 'malware', state: 'enforcing', escalatedAt: new Date('2026-03-01T09:30:00Z') }) })).text);
    expect(now).toContain('Complaints about malware distribution are acted on at once: a separate mail says what we apply');
    expect(now).not.toContain('Without an answer');
  });

  it('refuses to render without the complaint or without deadlines', () => {
    const bare = sampleInput();
    delete bare.complaint;
    expect(() => renderMail(bare)).toThrow(expect.objectContaining({ kind: 'invalid', field: 'complaint' }));
    try {
      renderMail(sampleInput({ incident: sampleIncident({ ackDueAt: undefined }) }));
      expect.unreachable();
    } catch (err) {
      expect(isCordonError(err, 'invalid')).toBe(true);
    }
  });
});

describe('escalated', () => {
  const escalated = (over: Parameters<typeof sampleIncident>[0]) =>
    flat(renderMail(sampleInput({ template: 'escalated', incident: sampleIncident({ state: 'enforcing', ...over }), actions: [{ kind: 'smtp_block' }] })).text);

  it('names the missed deadline, the action, the server and its prefixes, and why', () => {
    const t = escalated({ escalatedAt: new Date('2026-03-02T09:31:00Z') });
    expect(t).toContain('The deadline to acknowledge the complaint for incident inc-20260301-a1b2c3d4 passed at 2026-03-02T09:30:00Z');
    expect(t).toContain('Because spam from your server web-01 (public prefixes 203.0.113.0/29, 2001:db8:7::/64) threatens our network');
    expect(t).toContain('we will apply the following to this server: - outbound SMTP (ports 25, 465, 587) blocked');
    expect(t).not.toContain('other server'); // nothing known of them: nothing claimed
    expect(t).toContain('ipmitool sol activate');
  });

  it('says truthfully whether the customer\'s other servers are affected', () => {
    const scoped = (scope: { otherHosts: number; otherRestricted: string[] }) =>
      flat(renderMail(sampleInput({ template: 'escalated', incident: sampleIncident({ state: 'enforcing' }), actions: [{ kind: 'smtp_block' }], scope })).text);
    expect(scoped({ otherHosts: 14, otherRestricted: [] })).toContain('This incident concerns this server only: your 14 other servers are not affected.');
    const some = scoped({ otherHosts: 14, otherRestricted: ['web-07', 'web-09'] });
    expect(some).toContain('Of your 14 other servers, 2 are restricted under other incidents, each with its own mail: web-07, web-09.');
    expect(some).not.toContain('other servers are not affected');
    expect(scoped({ otherHosts: 0, otherRestricted: [] })).toContain('you have no other servers with us');
  });

  it('an enforcement approved by a second operator names both', () => {
    const t = flat(
      renderMail(sampleInput({ template: 'enforced', actions: [{ kind: 'isolate' }], approval: { id: 'apr-1', requestedBy: 'olga', approvedBy: 'ada' }, scope: { otherHosts: 1, otherRestricted: [] } })).text,
    );
    expect(t).toContain('This action was requested by olga and approved by a second operator, ada (approval apr-1).');
    expect(t).toContain('your 1 other server is not affected');
  });

  it('names the resolve deadline when that one passed', () => {
    const t = escalated({ acknowledgedAt: new Date('2026-03-01T12:00:00Z'), escalatedAt: new Date('2026-03-04T09:30:01Z') });
    expect(t).toContain('fix the problem, show a false positive or send a plan for incident inc-20260301-a1b2c3d4 passed at 2026-03-04T09:30:00Z');
  });

  it('an immediate category escalated at intake has no deadline to name', () => {
    expect(escalated({ category: 'malware', notifiedAt: undefined, ackDueAt: undefined, resolveDueAt: undefined, escalatedAt: new Date('2026-03-01T09:30:00Z') })).toContain(
      'Complaints about malware distribution are handled at once',
    );
  });

  it('without a decided action, says an operator decides', () => {
    const t = flat(renderMail(sampleInput({ template: 'escalated', incident: sampleIncident({ category: 'copyright', state: 'escalated' }), actions: [] })).text);
    expect(t).toContain('An operator of the abuse desk decides which action to take on your server web-01');
  });
});

describe('enforced', () => {
  it('says what was applied, in words, and how to get released', () => {
    const t = flat(
      renderMail(
        sampleInput({
          template: 'enforced',
          actions: [{ kind: 'smtp_block' }, { kind: 'throttle', rateBps: 10_000_000 }, { kind: 'isolate' }, { kind: 'nic_down' }],
        }),
      ).text,
    );
    expect(t).toContain('- outbound SMTP (ports 25, 465, 587) blocked');
    expect(t).toContain('- traffic limited to 10 Mbit/s');
    expect(t).toContain('- public network isolated; management and the IPMI console remain reachable');
    expect(t).toContain('- public interfaces down; the IPMI console remains reachable');
    // Without a page (no link id on the row) the only way to answer is a reply.
    expect(t).toContain('How to get released: remove the cause (the spam), then say "fixed" and what you did; an operator checks it and lifts the restrictions.');
    expect(t).toContain('To do so, reply to this mail keeping [Cordon #inc-20260301-a1b2c3d4] in the subject.');
  });
});

describe('released, closed, dismissed', () => {
  it('are short and factual', () => {
    for (const template of ['released', 'closed', 'dismissed'] as const) {
      const m = renderMail(sampleInput({ template, incident: sampleIncident({ closedAt: new Date('2026-03-05T00:00:00Z') }) }));
      expect(m.text.length).toBeLessThan(600);
      expect(m.text).not.toContain('ipmitool');
    }
    expect(flat(renderMail(sampleInput({ template: 'closed', incident: sampleIncident({ closedAt: new Date('2026-03-05T00:00:00Z') }) })).text)).toContain(
      'closed as of 2026-03-05T00:00:00Z',
    );
  });
});

describe('answer_rejected', () => {
  const rejected = (answer: 'fixed' | 'false_positive' | 'appeal', reason = 'The spam trap at 198.51.100.7 still receives your mail:\nlast at 2026-03-04T09:00:00Z.') =>
    renderMail(
      sampleInput({
        template: 'answer_rejected',
        incident: sampleIncident({ state: answer === 'appeal' ? 'enforced' : 'acknowledged', resolveDueAt: new Date('2026-03-07T12:00:00Z') }),
        actions: answer === 'appeal' ? [{ kind: 'smtp_block' }] : [],
        rejected: { answer, answeredAt: new Date('2026-03-04T08:00:00Z'), reason },
      }),
    );

  it('says what the customer said and when, quotes the reason, and gives the new deadline and the ways to answer', () => {
    const m = rejected('fixed');
    const t = flat(m.text);
    expect(m.subject).toBe('[Cordon #inc-20260301-a1b2c3d4] Your answer about server web-01 was not accepted');
    expect(t).toContain('You told us on 2026-03-04T08:00:00Z that the cause is fixed, for incident inc-20260301-a1b2c3d4');
    expect(m.text).toContain('    The spam trap at 198.51.100.7 still receives your mail:\n    last at 2026-03-04T09:00:00Z.');
    expect(t).toContain('tell us by 2026-03-07T12:00:00Z');
    expect(t).toContain('plan: what you will do');
    for (const line of m.text.split('\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(flat(rejected('false_positive').text)).toContain('that the complaint is a false positive');
  });

  it('on an appeal, says the restriction stays and how it is lifted', () => {
    const t = flat(rejected('appeal').text);
    expect(t).toContain('that the restriction in force is wrong (an appeal)');
    expect(t).toContain('The restriction stays in place:');
    expect(t).toContain('the next step may follow after 2026-03-07T12:00:00Z');
  });

  it('refuses to render without the answer, and the payload keeps it through JSON', () => {
    expect(() => renderMail(sampleInput({ template: 'answer_rejected' }))).toThrow(/needs the rejected answer/);
    const payload = JSON.parse(JSON.stringify({ ...sampleInput({ template: 'answer_rejected', rejected: { answer: 'fixed', answeredAt: new Date('2026-03-04T08:00:00Z'), reason: 'still spamming' } }), desk: undefined }));
    expect(parseMailPayload(payload).rejected).toEqual({ answer: 'fixed', answeredAt: new Date('2026-03-04T08:00:00Z'), reason: 'still spamming' });
    expect(() => parseMailPayload({ ...payload, rejected: { answer: 'maybe', reason: 'x' } })).toThrow(/unknown value "maybe"/);
  });
});

describe('describeAction', () => {
  it('words the ports and rates', () => {
    expect(describeAction({ kind: 'smtp_block', ports: [25] })).toBe('outbound SMTP (ports 25) blocked');
    expect(formatRate(10_000_000)).toBe('10 Mbit/s');
    expect(formatRate(1_500_000)).toBe('1.5 Mbit/s');
    expect(formatRate(64_000)).toBe('64 kbit/s');
    expect(formatRate(1e9)).toBe('1 Gbit/s');
    expect(formatRate(800)).toBe('800 bit/s');
  });
});
