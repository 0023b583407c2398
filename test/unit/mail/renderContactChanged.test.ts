import { describe, expect, it } from 'vitest';
import { parseOutboxMail } from '../../../controller/mail/parseMailPayload.js';
import { maskEmail, type ContactChangedPayload } from '../../../controller/mail/renderContactChanged.js';
import { renderOutboxMail } from '../../../controller/mail/renderMail.js';
import { DESK, samplePayload } from './fixtures.js';

const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

const payload = (over: Partial<ContactChangedPayload['change']> = {}): ContactChangedPayload => ({
  template: 'contact_changed',
  customer: { id: 'acme', name: 'ACME', email: 'ops@acme.example' },
  change: { reference: 'ctc-1a2b3c4d', at: new Date('2026-03-01T10:00:00.750Z'), newEmailMasked: 'j***@acme-ops.example', ...over },
});

describe('the contact-changed mail', () => {
  it('masks an address to its first character and its domain', () => {
    expect(maskEmail('jane.doe@example.org')).toBe('j***@example.org');
    expect(maskEmail('j@example.org')).toBe('j***@example.org');
    expect(maskEmail('not-an-address')).toBe('***');
  });

  it('tells the old address what changed, to what (masked), by whom, and how to object', () => {
    const m = renderOutboxMail(payload({ newName: 'ACME Operations' }), DESK);
    expect(m.subject).toBe('[Cordon contact ctc-1a2b3c4d] Your abuse-notice address was changed');
    expect(m.headers).toEqual({ 'X-Cordon-Customer': 'acme', 'X-Cordon-Template': 'contact_changed', 'Auto-Submitted': 'auto-generated' });
    expect(m.attachments).toEqual([]);
    const flat = m.text.replace(/\s+/g, ' ');
    expect(flat).toContain('Dear ACME,');
    expect(flat).toContain(`${DESK.name} changed the address to which we send abuse notices about the servers of your account acme, at 2026-03-01T10:00:00Z`);
    expect(flat).toContain('before: ops@acme.example (this address)');
    expect(flat).toContain('now: j***@acme-ops.example');
    expect(flat).toContain('contact name now: ACME Operations');
    expect(flat).toContain(`If you did not ask for this change, object now: reply to this mail keeping [Cordon contact ctc-1a2b3c4d] in the subject, or write to ${DESK.replyTo}.`);
    expect(renderOutboxMail(payload(), DESK).text).not.toContain('contact name now');
  });

  it('survives the outbox: stored as JSON, read back, rendered the same', () => {
    const direct = renderOutboxMail(payload(), DESK);
    const read = parseOutboxMail(viaJson(payload()));
    expect(read).toEqual(payload());
    expect(renderOutboxMail(read, DESK)).toEqual(direct);
  });

  it('leaves incident mail to parseMailPayload and renderMail', () => {
    const read = parseOutboxMail(viaJson(samplePayload()));
    expect(read.template).toBe('notice');
    expect(renderOutboxMail(read, DESK).headers['X-Cordon-Incident']).toBe(samplePayload().incident.id);
  });

  it('refuses a row it cannot read, naming the field', () => {
    const broken = (mutate: (p: Record<string, unknown>) => void) => {
      const p = viaJson(payload()) as Record<string, unknown>;
      mutate(p);
      return () => parseOutboxMail(p);
    };
    expect(broken((p) => delete p.customer)).toThrow(expect.objectContaining({ kind: 'invalid', field: 'customer' }));
    expect(broken((p) => ((p.customer as Record<string, unknown>).email = 7))).toThrow(expect.objectContaining({ kind: 'invalid', field: 'customer.email' }));
    expect(broken((p) => ((p.change as Record<string, unknown>).at = 'yesterday'))).toThrow(expect.objectContaining({ kind: 'invalid', field: 'change.at' }));
    expect(broken((p) => delete (p.change as Record<string, unknown>).newEmailMasked)).toThrow(expect.objectContaining({ kind: 'invalid', field: 'change.newEmailMasked' }));
  });
});
