import { afterEach, describe, expect, it } from 'vitest';
import { PAGE_PREFIX } from '../../controller/customer/CustomerLinks.js';
import { waitFor } from '../helpers/waitFor.js';
import { MailController, PUBLIC_URL, STATEMENT, type Delivered } from '../unit/mail/mailController.js';

/**
 * Every restriction mail is a statement of reasons (EU DSA Art. 17): through
 * the real controller, its store and a real SMTP server, the escalated and
 * enforced mails state the facts, the ground, whether a person decided, the
 * scope and how to contest.
 */
const flat = (s: string) => s.replace(/\s+/g, ' ');

describe('statement of reasons in restriction mail', () => {
  let m: MailController;
  afterEach(async () => {
    await m?.stop();
  });
  const byTemplate = (template: string) => (d: Delivered) => d.headers.get('x-cordon-template') === template;

  it('an automated restriction after an unanswered deadline: each element, in the escalated and the enforced mail', async () => {
    m = await MailController.start();
    // An operator enters a CERT's complaint: trusted, so the ladder may act by itself.
    const r = await m.controller.service.submitComplaint(
      {
        ip: '203.0.113.3',
        category: 'spam',
        reporter: 'Example CERT',
        reporterKind: 'cert',
        eventTime: new Date('2026-11-02T07:45:00Z'),
        evidence: 'spamtrap: 1200 messages from 203.0.113.3 to 40 domains',
        raw: 'Spam from 203.0.113.3, see spamtrap logs.',
      },
      'olga',
    );
    const notice = await m.noticeDelivered(r.incidentId!);
    // The operator's evidence is in the notice body: there is no report of its own that says it.
    expect(flat(notice.text)).toContain('Evidence recorded by our abuse desk for 203.0.113.3: spamtrap: 1200 messages');
    const i = await m.incident(r.incidentId!);
    await m.advance(i.ackDueAt!.getTime() - m.clock.now().getTime() + 1000);
    const escalated = await m.mailWhere('the escalated mail', byTemplate('escalated'));
    await waitFor('enforcing', async () => (await m.incident(r.incidentId!)).state === 'enforcing');
    await m.controller.service.apply(r.incidentId!, { type: 'host_applied' }, 'agent');
    const enforced = await m.mailWhere('the enforced mail', byTemplate('enforced'));
    for (const mail of [escalated, enforced]) {
      const t = flat(mail.text);
      expect(t).toContain('STATEMENT OF REASONS (EU Digital Services Act, Article 17)');
      expect(t).toContain('Facts: one complaint about spam from server web-01');
      expect(t).toContain('203.0.113.3, event 2026-11-02T07:45:00Z, received 2026-11-02T09:00:00Z, from Example CERT: spamtrap: 1200 messages from 203.0.113.3 to 40 domains');
      expect(t).toContain('Ground: ladder step 1 of our policy for spam: outbound SMTP (ports 25, 465, 587) blocked.');
      expect(t).toContain(`The restriction relies on ${STATEMENT.contractClause}.`);
      expect(t).toContain('Automated decision: yes. Our policy applied this step by itself because the deadline to acknowledge the complaint passed at');
      expect(t).toContain('Servers affected: the restriction applies to server web-01 only');
      expect(t).toContain('This incident concerns this server only: your 1 other server is not affected.');
      expect(t).toContain('How to contest it: on the page of this incident');
      expect(mail.text).toContain(`${PUBLIC_URL}${PAGE_PREFIX}`);
      expect(t).toContain(STATEMENT.redress);
    }
    // One link per incident: the restriction mails carry the notice's.
    const link = (d: Delivered) => new RegExp(`${PUBLIC_URL}${PAGE_PREFIX}\\S+`).exec(d.text)?.[0];
    expect(link(escalated)).toBe(link(notice));
    expect(link(enforced)).toBe(link(notice));
  });

  it("an operator's restriction: a person decided it, and by name", async () => {
    m = await MailController.start();
    const id = await m.controller.service.enforceHost('web-02', { kind: 'smtp_block' }, 'outbound spam seen in our own NetFlow', 'olga');
    await waitFor('enforcing', async () => (await m.incident(id)).state === 'enforcing');
    await m.controller.service.apply(id, { type: 'host_applied' }, 'agent');
    const t = flat((await m.mailWhere('the enforced mail', byTemplate('enforced'))).text);
    expect(t).toContain('Facts: our abuse desk opened this incident about server web-02 without a complaint from outside');
    expect(t).toContain('Ground: the decision of an abuse desk operator, who gave this reason: outbound spam seen in our own NetFlow.');
    expect(t).toContain('Automated decision: no. A person decided it: olga, operator of our abuse desk.');
    expect(t).not.toContain('Automated decision: yes');
    expect(t).toContain('the restriction applies to server web-02 only');
    expect(t).toContain(STATEMENT.redress);
  });
});
