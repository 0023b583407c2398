import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredReporter } from '../../controller/intake/trust/RegisteredReporter.js';
import { dnsServerGate, startDnsServer, type DnsServer } from '../helpers/dnsServer.js';
import { arf, MailController, type Delivered } from '../unit/mail/mailController.js';

/**
 * Reporters are told how an incident ended, through the real controller:
 * a report signed with DKIM by a registered CERT (verified through a real DNS
 * server) gets one outcome mail at its Reply-To address; an unsigned copy
 * claiming the same sender gets none (no backscatter to forged senders);
 * a feed's reporter gets none unless `outcome.feedReporters` says so; the
 * mail names nothing of the customer.
 */
const gate = dnsServerGate();
if (!gate.ok) process.stderr.write(`SKIP test/integration/reporterOutcome.test.ts: ${gate.reason}\n`);

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const DKIM = {
  domain: 'cert.example',
  selector: 'selector',
  privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  record: `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
};

async function signed(raw: string): Promise<Buffer> {
  // One signing time for both places mailauth writes t= (it otherwise reads the clock twice, and a second
  // boundary between them makes a signature that never verifies: about one in 300 signatures).
  const options = { signatureData: [{ signingDomain: DKIM.domain, selector: DKIM.selector, privateKey: DKIM.privateKey }], signTime: new Date() } as unknown as Parameters<typeof dkimSign>[1];
  const { signatures, errors } = await dkimSign(raw, options);
  expect(errors).toEqual([]);
  return Buffer.from(signatures + raw);
}

const CERT: RegisteredReporter = { id: 'cert-example', name: 'Example CERT', kind: 'cert', domains: ['cert.example'], arcForwarder: false };
const FEED: RegisteredReporter = { id: 'trap-feed', name: 'Trap Feed', kind: 'upstream', domains: [], arcForwarder: false, feed: 'trap' };
const CUSTOMER_DATA = /ACME|acme|web-0\d|ops@|10\.255\.|Dear/;
const outcomes = (all: Delivered[]) => all.filter((d) => d.headers.get('x-cordon-template') === 'reporter_outcome');

describe.skipIf(!gate.ok)('the reporter is told the outcome', () => {
  let dns: DnsServer | undefined;
  let m: MailController | undefined;
  beforeAll(async () => {
    dns = await startDnsServer({ [`${DKIM.selector}._domainkey.${DKIM.domain}`]: DKIM.record, '_dmarc.cert.example': 'v=DMARC1; p=reject' });
  });
  afterAll(async () => {
    await dns?.stop();
  });
  afterEach(async () => {
    await m?.stop();
    m = undefined;
  });

  const start = (opts: { reporters: RegisteredReporter[]; feedReporters?: boolean }) =>
    MailController.start({
      reporters: opts.reporters,
      settings: { dnsServers: [dns!.address], outcome: { mailReporters: true, feedReporters: opts.feedReporters ?? false } },
    });

  it('closed: the signed reporter gets one mail at its Reply-To, with the outcome and the IP only; a forged copy and a feed get none', async () => {
    m = await start({ reporters: [CERT, FEED] });
    const report = await signed(arf({ from: 'fbl@cert.example', replyTo: 'CERT Desk <desk@cert.example>', messageId: 'r-1@cert.example', eventTime: '2026-11-02T08:00:00Z', ip: '203.0.113.2' }));
    const first = (await m.controller.service.ingestReport(report, 'maildir')).results[0]!;
    expect(first).toMatchObject({ outcome: 'opened', trusted: true });
    // Not signed, claims the same CERT, asks answers to go to someone else: never written to.
    const forged = arf({ from: 'fbl@cert.example', replyTo: 'victim@elsewhere.example', messageId: 'f-1@cert.example', eventTime: '2026-11-02T08:20:00Z', ip: '203.0.113.2' });
    expect((await m.controller.service.ingestReport(Buffer.from(forged), 'maildir')).results[0]).toMatchObject({ outcome: 'merged', trusted: false });
    const feed = arf({ from: 'reports@trap.example', messageId: 't-1@trap.example', eventTime: '2026-11-02T08:40:00Z', ip: '203.0.113.5' });
    expect((await m.controller.service.ingestReport(Buffer.from(feed), 'feed', undefined, { kind: 'feed', feed: 'trap', actor: 'feed' })).results[0]).toMatchObject({
      outcome: 'merged',
    });
    const stored = await m.controller.store.complaints.listByIncident(first.incidentId!);
    expect(Object.fromEntries(stored.map((c) => [c.messageId, c.replyTo]))).toEqual({
      'r-1@cert.example': 'desk@cert.example',
      'f-1@cert.example': undefined,
      't-1@trap.example': 'reports@trap.example',
    });

    await m.noticeDelivered(first.incidentId!);
    await m.controller.service.apply(first.incidentId!, { type: 'customer_fixed' }, 'customer');
    await m.controller.service.apply(first.incidentId!, { type: 'operator_verify', operator: 'olga' }, 'olga');
    const mail = await m.mailWhere('the outcome mail', (d) => d.headers.get('x-cordon-template') === 'reporter_outcome');
    expect(mail.to).toEqual(['desk@cert.example']);
    expect(mail.subject).toBe(`[Cordon #${first.incidentId}] Outcome of your abuse report about 203.0.113.2`);
    expect(mail.text).toContain('Outcome: resolved.');
    expect(mail.headers.get('in-reply-to')).toBe('<r-1@cert.example>');
    expect(mail.raw).not.toMatch(CUSTOMER_DATA);
    expect(mail.raw).not.toContain('203.0.113.5'); // the feed's address is the feed's business

    await m.mailWhere("the customer's closed mail", (d) => d.headers.get('x-cordon-template') === 'closed');
    await new Promise((r) => setTimeout(r, 300));
    const all = await m.delivered();
    expect(outcomes(all)).toHaveLength(1);
    expect(all.flatMap((d) => d.to)).not.toContain('victim@elsewhere.example');
    expect(all.flatMap((d) => d.to)).not.toContain('reports@trap.example');
    // Its mail is not the incident's: nothing that acts on an incident's mail (a bounce) takes it for the customer's.
    const row = (await m.controller.store.outbox.list()).find((r) => (r.payload as { template?: string }).template === 'reporter_outcome');
    expect(row?.incidentId).toBeUndefined();
  });

  it('dismissed: a feed reporter gets it when outcome.feedReporters is on; a registry entry that opts out gets none', async () => {
    m = await start({ reporters: [{ ...CERT, notifyOutcome: false }, FEED], feedReporters: true });
    const feed = arf({ from: 'reports@trap.example', messageId: 't-2@trap.example', eventTime: '2026-11-02T08:40:00Z', ip: '203.0.113.3' });
    const first = (await m.controller.service.ingestReport(Buffer.from(feed), 'feed', undefined, { kind: 'feed', feed: 'trap', actor: 'feed' })).results[0]!;
    const report = await signed(arf({ from: 'fbl@cert.example', messageId: 'r-2@cert.example', eventTime: '2026-11-02T08:50:00Z', ip: '203.0.113.3' }));
    expect((await m.controller.service.ingestReport(report, 'maildir')).results[0]).toMatchObject({ outcome: 'merged', trusted: true });
    await m.controller.service.apply(first.incidentId!, { type: 'operator_dismiss', operator: 'olga', reason: 'a customer mail relay misread as spam' }, 'olga');
    const mail = await m.mailWhere('the outcome mail', (d) => d.headers.get('x-cordon-template') === 'reporter_outcome');
    expect(mail.to).toEqual(['reports@trap.example']);
    expect(mail.text).toContain('Outcome: dismissed.');
    expect(mail.raw).not.toMatch(CUSTOMER_DATA);
    expect(mail.raw).not.toContain('relay misread'); // the operator's reason is for the customer, not the reporter
    await m.mailWhere("the customer's dismissed mail", (d) => d.headers.get('x-cordon-template') === 'dismissed');
    await new Promise((r) => setTimeout(r, 300));
    expect(outcomes(await m.delivered()).map((d) => d.to[0])).toEqual(['reports@trap.example']);
  });
});
