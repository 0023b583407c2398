import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyCustomerMail, namedIn, sameAddress, type KnownMail, type MailContext } from '../../../controller/intake/customerMail/classifyCustomerMail.js';
import { readCustomerMail } from '../../../controller/intake/customerMail/readCustomerMail.js';
import { parseOutboxMessageId } from '../../../controller/mail/MailSender.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/customer-mail');
const INC = 'inc-20260302-a1b2c3d4';
const REF7 = '0123456789abcdef0123456789abcdef';
const REF8 = 'fedcba9876543210fedcba9876543210';

/** The outbox as the fixtures know it: row 7 the notice, row 8 the restriction mail, row 9 a reporter's outcome (no incident). */
const OUTBOX: Record<number, KnownMail & { ref: string }> = {
  7: { outboxId: 7, ref: REF7, incidentId: INC, template: 'notice', recipient: 'ops@acme.example', toCustomer: true },
  8: { outboxId: 8, ref: REF8, incidentId: INC, template: 'enforced', recipient: 'ops@acme.example', toCustomer: true },
  9: { outboxId: 9, ref: 'a'.repeat(32), incidentId: undefined, template: 'reporter_outcome', recipient: 'fbl@mailbox.example', toCustomer: false },
};

/** The lookups CustomerMailThreader makes, over OUTBOX: a Message-ID counts only with its row's own ref. */
function contextFor(raw: Buffer, facts: Awaited<ReturnType<typeof readCustomerMail>>, customerEmail = 'ops@acme.example'): MailContext {
  const { messageIds, taggedIncident } = namedIn(facts);
  const sent = new Map<string, KnownMail>();
  for (const id of messageIds) {
    const p = parseOutboxMessageId(id);
    const row = p && OUTBOX[p.outboxId];
    if (row && row.ref === p.ref) sent.set(id, row);
  }
  void raw;
  return { sent, incidents: new Map(taggedIncident === INC ? [[INC, { customerEmail }]] : []) };
}

async function classify(name: string, edit: (s: string) => string = (s) => s, customerEmail?: string) {
  const raw = Buffer.from(edit(readFileSync(join(FIXTURES, name), 'utf8')), 'utf8');
  const facts = await readCustomerMail(raw);
  return classifyCustomerMail(facts, contextFor(raw, facts, customerEmail));
}

describe('classifyCustomerMail: bounces', () => {
  it('a Postfix DSN (text/rfc822-headers) failing the notice to the customer is a bounce of the notice', async () => {
    expect(await classify('postfix-dsn-failed.eml')).toEqual({
      kind: 'bounce',
      incidentId: INC,
      outboxId: 7,
      template: 'notice',
      ofNotice: true,
      recipient: 'ops@acme.example',
      status: '5.1.1',
      diagnostic: '550 5.1.1 <ops@acme.example>: Recipient address rejected: User unknown in virtual mailbox table',
      standard: true,
      why: expect.stringContaining('RFC 3464'),
    });
  });

  it('an Exim DSN (returned message/rfc822, recipient domain in capitals) is a bounce of the notice', async () => {
    expect(await classify('exim-dsn-failed.eml')).toMatchObject({ kind: 'bounce', incidentId: INC, outboxId: 7, ofNotice: true, status: '5.0.0', diagnostic: '550 5.2.1 Mailbox disabled for this recipient', standard: true });
  });

  it('a different local part is another mailbox: the domain alone is case-insensitive', async () => {
    expect(await classify('postfix-dsn-failed.eml', (s) => s.replace(/rfc822; ?ops@acme\.example/g, 'rfc822; OPS@acme.example'))).toMatchObject({ kind: 'none' });
    expect(sameAddress('ops@ACME.example', 'ops@acme.example', false)).toBe(true);
    expect(sameAddress('OPS@acme.example', 'ops@acme.example', false)).toBe(false);
    expect(sameAddress('OPS@acme.example', 'ops@acme.example', true)).toBe(true);
  });

  it('a delayed DSN is no bounce: a note at most', async () => {
    expect(await classify('postfix-dsn-delayed.eml')).toMatchObject({ kind: 'auto_reply', incidentId: INC, outboxId: 7, matchedBy: 'delivery-status', marker: 'dsn action: delayed' });
  });

  it('delivered, relayed or expanded is no bounce either; a DSN without Action says nothing', async () => {
    for (const action of ['delivered', 'relayed', 'expanded']) {
      expect(await classify('postfix-dsn-failed.eml', (s) => s.replace('Action: failed', `Action: ${action}`))).toMatchObject({ kind: 'auto_reply', marker: `dsn action: ${action}` });
    }
    expect(await classify('postfix-dsn-failed.eml', (s) => s.replace('Action: failed\n', ''))).toMatchObject({ kind: 'none' });
  });

  it('a forged bounce naming a guessed <outbox-1@cordon> is refused', async () => {
    const c = await classify('forged-bounce-guessed-id.eml');
    expect(c).toEqual({ kind: 'none', why: expect.stringContaining('names none of our mails') });
  });

  it('a forged bounce naming the right row with a wrong or missing ref is refused', async () => {
    const wrong = REF7.slice(0, -1) + 'e';
    expect(await classify('postfix-dsn-failed.eml', (s) => s.replaceAll(REF7, wrong))).toMatchObject({ kind: 'none' });
    expect(await classify('postfix-dsn-failed.eml', (s) => s.replaceAll(`.${REF7}`, ''))).toMatchObject({ kind: 'none' });
    // The ref of another row does not open this one.
    expect(await classify('postfix-dsn-failed.eml', (s) => s.replaceAll(REF7, REF8))).toMatchObject({ kind: 'none' });
  });

  it('a bounce for another customer\'s address is refused, though it names our notice correctly', async () => {
    expect(await classify('bounce-other-address.eml')).toEqual({ kind: 'none', why: expect.stringContaining('not for the address it went to') });
  });

  it('a bounce of a mail that is not the notice is recorded as such: it does not stop the notice clock', async () => {
    expect(await classify('bounce-non-notice.eml')).toMatchObject({ kind: 'bounce', outboxId: 8, template: 'enforced', ofNotice: false });
  });

  it('a bounce of a mail of no incident (a reporter\'s outcome) is not customer mail', async () => {
    expect(await classify('postfix-dsn-failed.eml', (s) => s.replaceAll(`outbox-7.${REF7}`, `outbox-9.${'a'.repeat(32)}`).replace(/ops@acme\.example/g, 'fbl@mailbox.example'))).toMatchObject({ kind: 'none' });
  });

  it('a non-standard bounce (qmail, no DSN) quoting our Message-ID is a bounce marked non-standard', async () => {
    expect(await classify('qmail-failure-notice.eml')).toMatchObject({ kind: 'bounce', outboxId: 7, ofNotice: true, standard: false, status: '5.1.1', why: expect.stringContaining('non-standard') });
  });

  it('a non-standard bounce must name our Message-ID with the right ref and the address it went to', async () => {
    expect(await classify('qmail-failure-notice.eml', (s) => s.replace(`outbox-7.${REF7}`, 'outbox-7'))).toMatchObject({ kind: 'none' });
    expect(await classify('qmail-failure-notice.eml', (s) => s.replace(REF7, REF8))).toMatchObject({ kind: 'none' });
    expect(await classify('qmail-failure-notice.eml', (s) => s.replace(/ops@acme\.example/g, 'someone@else.example'))).toMatchObject({ kind: 'none' });
    // Not from a mail system and not auto-submitted: a person quoting headers is not a bounce.
    expect(await classify('qmail-failure-notice.eml', (s) => s.replace('From: MAILER-DAEMON@mail.acme.example', 'From: ops@acme.example').replace('Return-Path: <>\n', ''))).toMatchObject({ kind: 'none' });
  });

  it('a non-standard delay warning is a note, not a bounce', async () => {
    expect(
      await classify('qmail-failure-notice.eml', (s) => s.replace('Subject: failure notice', 'Subject: Warning: message still undelivered after 4 hours').replace("This is a permanent error; I've given up.", 'I will continue to try.')),
    ).toMatchObject({ kind: 'auto_reply', marker: 'delay warning (no report)' });
  });
});

describe('classifyCustomerMail: replies', () => {
  it('an Outlook reply with In-Reply-To is a reply (X-Auto-Response-Suppress marks nothing)', async () => {
    expect(await classify('outlook-reply.eml')).toEqual({ kind: 'reply', incidentId: INC, outboxId: 7, matchedBy: 'message-id', marker: undefined, why: 'a reply to our notice mail' });
    const raw = readFileSync(join(FIXTURES, 'outlook-reply.eml'));
    const facts = await readCustomerMail(raw);
    expect(facts.text).toContain('Grüße, Jürgen');
    expect(facts.from).toBe('Ops@Acme.example');
    expect(facts.messageId).toBe('<AM7PR03MB6451A2B3C4D5E6F7@AM7PR03MB6451.eurprd03.prod.outlook.com>');
  });

  it('a vacation message with Auto-Submitted: auto-replied is an auto-reply', async () => {
    expect(await classify('vacation-auto-reply.eml')).toMatchObject({ kind: 'auto_reply', incidentId: INC, matchedBy: 'message-id', marker: 'auto-submitted: auto-replied' });
  });

  it('X-Autoreply, X-Autorespond and Precedence junk mark an auto-reply; Auto-Submitted: no does not', async () => {
    const plain = (s: string) => s.replace(/^Auto-Submitted: .*\n/m, '').replace(/^Precedence: bulk\n/m, '');
    expect(await classify('vacation-auto-reply.eml', (s) => plain(s).replace('MIME-Version', 'X-Autoreply: yes\nMIME-Version'))).toMatchObject({ kind: 'auto_reply', marker: 'x-autoreply: yes' });
    expect(await classify('vacation-auto-reply.eml', (s) => plain(s).replace('MIME-Version', 'X-Autorespond: 1\nMIME-Version'))).toMatchObject({ kind: 'auto_reply' });
    expect(await classify('vacation-auto-reply.eml', (s) => plain(s).replace('MIME-Version', 'Precedence: junk\nMIME-Version'))).toMatchObject({ kind: 'auto_reply' });
    expect(await classify('vacation-auto-reply.eml', (s) => plain(s).replace('MIME-Version', 'Auto-Submitted: no\nMIME-Version'))).toMatchObject({ kind: 'reply' });
  });

  it('a reply naming our notice only in References (the last one first) is threaded', async () => {
    expect(await classify('outlook-reply.eml', (s) => s.replace(/^In-Reply-To: .*\n/m, '').replace(/^References: .*$/m, `References: <x@acme.example> <outbox-7.${REF7}@cordon>`))).toMatchObject({ kind: 'reply', outboxId: 7 });
  });

  it('a reply with a guessed or old-form Message-ID and no tag is not customer mail', async () => {
    const edit = (id: string) => (s: string) => s.replaceAll(`<outbox-7.${REF7}@cordon>`, id).replace(/\[Cordon #[^\]]*\]/g, '');
    expect(await classify('outlook-reply.eml', edit('<outbox-7@cordon>'))).toMatchObject({ kind: 'none' });
    expect(await classify('outlook-reply.eml', edit(`<outbox-7.${REF8}@cordon>`))).toMatchObject({ kind: 'none' });
  });

  it('a reply to a reporter\'s outcome mail is not the customer\'s', async () => {
    expect(await classify('outlook-reply.eml', (s) => s.replaceAll(`outbox-7.${REF7}`, `outbox-9.${'a'.repeat(32)}`).replace(/\[Cordon #[^\]]*\]/g, ''))).toMatchObject({ kind: 'none' });
  });

  it('a subject tag from the customer\'s registered address (any case) is a reply', async () => {
    expect(await classify('subject-tag-customer.eml')).toMatchObject({ kind: 'reply', incidentId: INC, matchedBy: 'subject-tag', outboxId: undefined });
  });

  it('a subject tag from anyone else is not threaded: a third party cannot write into an incident by subject', async () => {
    expect(await classify('subject-tag-stranger.eml')).toEqual({ kind: 'none', why: expect.stringContaining('not the customer\'s registered address') });
    // Nor from the customer's old address once it changed.
    expect(await classify('subject-tag-customer.eml', undefined, 'new-ops@acme.example')).toMatchObject({ kind: 'none' });
    // Nor a display name that looks like the customer.
    expect(await classify('subject-tag-stranger.eml', (s) => s.replace('Helpful Stranger <attacker@evil.example>', '"ops@acme.example" <attacker@evil.example>'))).toMatchObject({ kind: 'none' });
  });

  it('an ordinary complaint is not customer mail', async () => {
    expect(await classify('spam-complaint.eml')).toEqual({ kind: 'none', why: 'names none of our mails' });
  });
});
