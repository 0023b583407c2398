import { describe, expect, it } from 'vitest';
import { isManagedSecurityMail, parseManagedSecurityPayload, renderManagedSecurityMail, type ManagedSecurityMailPayload } from '../../../controller/security/managedSecurityMail.js';
import { DESK } from '../mail/fixtures.js';

const at = new Date('2026-12-07T10:00:00Z');
const payload: ManagedSecurityMailPayload = {
  template: 'managed_security',
  customer: { id: 'acme', name: 'ACME Hosting Ltd', email: 'ops@acme.example' },
  host: { id: 'web-01' },
  at,
  sockets: [
    { protocol: 'tcp', address: '0.0.0.0', port: 4444, process: 'nc', pid: 812 },
    { protocol: 'udp', address: '2001:db8::10', port: 53, process: '', pid: 0 },
  ],
};

describe("managed security's mail", () => {
  it('says what listens, with its process, and links the page; the same row gives the same bytes', () => {
    const mail = renderManagedSecurityMail(payload, DESK, 'https://customers.example/s/TOKEN');
    expect(mail.subject).toBe('[Cordon security web-01] New listening socket on your server web-01');
    expect(mail.text).toContain('tcp 0.0.0.0:4444, process nc (pid 812)');
    expect(mail.text).toContain('udp [2001:db8::10]:53, process not known');
    expect(mail.text).toContain('\n  https://customers.example/s/TOKEN\n');
    expect(mail.headers).toMatchObject({ 'X-Cordon-Template': 'managed_security', 'X-Cordon-Host': 'web-01', 'Auto-Submitted': 'auto-generated' });
    // Stored as JSON and read back (dates as strings), it renders the same.
    const stored = JSON.parse(JSON.stringify(payload)) as unknown;
    expect(isManagedSecurityMail(stored)).toBe(true);
    expect(renderManagedSecurityMail(parseManagedSecurityPayload(stored), DESK, 'https://customers.example/s/TOKEN')).toEqual(mail);
  });

  it('lists bans with their end; without the page it says how to ask', () => {
    const mail = renderManagedSecurityMail({ ...payload, sockets: undefined, bans: [{ address: '198.51.100.7', services: ['ssh'], until: new Date('2026-12-07T10:20:00Z'), offence: 2 }] }, DESK, undefined);
    expect(mail.subject).toBe('[Cordon security web-01] Brute force banned on your server web-01');
    expect(mail.text).toContain('198.51.100.7 (ssh), until 2026-12-07T10:20:00Z, ban no. 2');
    expect(mail.text).toContain(`write to ${DESK.replyTo}`);
  });

  it('refuses an unreadable row by field', () => {
    expect(() => parseManagedSecurityPayload({ ...payload, customer: { id: 'acme' } })).toThrow(/customer/);
    expect(() => parseManagedSecurityPayload({ ...payload, at: 'yesterday' })).toThrow(/at is not a date/);
    expect(isManagedSecurityMail({ template: 'notice' })).toBe(false);
  });
});
