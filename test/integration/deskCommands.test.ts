import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../controller/clock.js';
import { runController, type Controller } from '../../controller/runController.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { openTestStore } from '../helpers/testStore.js';
import { TestPki } from '../helpers/pki.js';
import { cordonctl } from '../helpers/cordonctl.js';


/**
 * cordonctl, built, against a real controller on a real SQLite file: every
 * operator command, the roles from the certificates, four eyes on mass
 * actions, and a one-line reason with a non-zero exit on every refusal.
 */
describe('cordonctl against a controller with a store', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  const clock = new ManualClock(new Date('2026-11-02T09:00:00Z'));

  const ctl = cordonctl(() => controller.server.port, () => pki.dir);

  beforeAll(async () => {
    pki = new TestPki();
    pki.operator('olga', 'abuse_operator');
    pki.operator('omar', 'abuse_operator');
    pki.operator('tess', 'technician');
    pki.operator('vic', 'viewer');
    work = mkdtempSync(join(tmpdir(), 'cordon-desk-'));
    controller = await runController(controllerSettings(pki, await openTestStore(join(work, 'cordon.db')), { clock }));
  });
  afterAll(async () => {
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('adds hosts (technician) and shows them', async () => {
    for (const [id, prefix] of [['web-01', '203.0.113.10/32'], ['web-02', '203.0.113.11/32'], ['web-03', '2001:db8:3::/64']]) {
      const r = await ctl('tess', 'host', 'add', '--id', id!, '--customer', 'acme', '--prefix', prefix!, '--management', '10.255.0.10', '--customer-name', 'ACME', '--customer-email', 'ops@acme.example');
      expect(r).toMatchObject({ code: 0, out: `host ${id} added\n` });
    }
    const hosts = JSON.parse((await ctl('vic', 'hosts', '--json')).out) as { id: string }[];
    expect(hosts.map((h) => h.id)).toEqual(['web-01', 'web-02', 'web-03']);
    const overlap = await ctl('tess', 'host', 'add', '--id', 'web-04', '--customer', 'acme', '--prefix', '203.0.113.0/24', '--management', '10.255.0.14');
    expect(overlap.code).toBe(1);
    expect(overlap.err).toMatch(/^cordonctl: .*203\.0\.113\.0\/24.*overlaps/m);
  });

  it('routes complaints: opens, merges, rejects what is not ours, by longest prefix', async () => {
    const first = JSON.parse((await ctl('olga', 'complaint', 'submit', '--ip', '2001:db8:3::25', '--category', 'spam', '--reporter-kind', 'upstream', '--json')).out);
    expect(first.outcome).toBe('opened');
    const again = JSON.parse((await ctl('olga', 'complaint', 'submit', '--ip', '2001:db8:3::26', '--category', 'spam', '--reporter-kind', 'individual', '--json')).out);
    expect(again).toMatchObject({ outcome: 'merged', incidentId: first.incidentId });
    const other = JSON.parse((await ctl('olga', 'complaint', 'submit', '--ip', '2001:db8:3::25', '--category', 'scan', '--reporter-kind', 'upstream', '--json')).out);
    expect(other.incidentId).not.toBe(first.incidentId);
    const stray = await ctl('olga', 'complaint', 'submit', '--ip', '198.51.100.7', '--category', 'spam', '--reporter-kind', 'upstream');
    expect(stray).toMatchObject({ code: 1, out: expect.stringMatching(/^rejected: 198.51.100.7 is not in any of our public prefixes/) });
  });

  it('refuses bad input with a one-line reason and changes nothing', async () => {
    const before = (await ctl('vic', 'incident', 'list', '--json')).out;
    const cases: [string[], RegExp][] = [
      [['complaint', 'submit', '--ip', '203.0.113.999', '--category', 'spam', '--reporter-kind', 'cert'], /ip: "203.0.113.999" is not an IP address/],
      [['complaint', 'submit', '--ip', '203.0.113.10', '--category', 'spamming', '--reporter-kind', 'cert'], /category: unknown category "spamming"/],
      [['complaint', 'submit', '--ip', '203.0.113.10', '--category', 'spam', '--reporter-kind', 'robot'], /reporterKind: unknown reporter kind/],
      [['enforce', '--host', 'nope', '--action', 'isolate', '--reason', 'x'], /no host nope/],
      [['enforce', '--host', 'web-01', '--action', 'isolate'], /--reason: is required/],
    ];
    for (const [args, message] of cases) {
      const r = await ctl('olga', ...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(message);
    }
    expect((await ctl('vic', 'incident', 'list', '--json')).out).toBe(before);
  });

  it('takes answers and decisions, and refuses them on a closed incident', async () => {
    const list = JSON.parse((await ctl('vic', 'incident', 'list', '--host', 'web-03', '--json')).out) as { id: string; category: string }[];
    const spam = list.find((i) => i.category === 'spam')!;
    // The notice has no mail relay here: record the clock start as an operator would after sending by hand.
    await controller.service.apply(spam.id, { type: 'notice_sent' }, 'test');
    expect((await ctl('olga', 'incident', 'answer', spam.id, '--fixed', '--note', 'removed the spambot')).out).toBe(`${spam.id}: customer_resolved\n`);
    // Nobody acts over the customer's answer: it is decided first, and a rejected fix says why.
    const over = await ctl('olga', 'enforce', '--incident', spam.id, '--action', 'smtp_block', '--reason', 'still spamming');
    expect(over).toMatchObject({ code: 1, err: expect.stringMatching(/is customer_resolved: the customer says it is fixed.*waits until that answer is decided/) });
    const bare = await ctl('olga', 'incident', 'reject-dispute', spam.id);
    expect(bare).toMatchObject({ code: 2, err: expect.stringMatching(/reason: .*rejecting the customer's fix needs a reason/) });
    expect((await ctl('olga', 'incident', 'reject-dispute', spam.id, '--reason', 'the trap still gets its mail')).out).toBe(`${spam.id}: acknowledged\n`);
    // The customer is told, with the reason, in the same transaction as the decision.
    const told = (await controller.store.outbox.list()).filter((m) => m.kind === 'mail' && m.incidentId === spam.id && (m.payload as { template?: string }).template === 'answer_rejected');
    expect(told.map((m) => (m.payload as { rejected?: unknown }).rejected)).toMatchObject([{ answer: 'fixed', reason: 'the trap still gets its mail' }]);
    expect((await ctl('olga', 'incident', 'answer', spam.id, '--fixed', '--note', 'and the second spambot')).out).toBe(`${spam.id}: customer_resolved\n`);
    expect((await ctl('olga', 'incident', 'verify', spam.id)).out).toBe(`${spam.id}: closed\n`);
    const late = await ctl('olga', 'incident', 'answer', spam.id, '--ack');
    expect(late).toMatchObject({ code: 1, err: expect.stringMatching(/is closed: customer ack does not apply/) });
    const shown = JSON.parse((await ctl('vic', 'incident', 'show', spam.id, '--json')).out) as { events: { type: string }[] };
    expect(shown.events.map((e) => e.type)).toEqual(['open', 'complaint', 'notice_sent', 'customer_fixed', 'operator_reject_dispute', 'customer_fixed', 'operator_verify']);
    const viewer = await ctl('vic', 'incident', 'dismiss', spam.id, '--reason', 'x');
    expect(viewer).toMatchObject({ code: 1, err: expect.stringMatching(/needs role abuse_operator or above; vic is viewer/) });
  });

  it('puts a mass action behind a second operator', async () => {
    const tech = await ctl('tess', 'enforce', '--customer', 'acme', '--action', 'smtp_block', '--reason', 'spam wave');
    expect(tech).toMatchObject({ code: 1, err: expect.stringMatching(/needs role abuse_operator/) });
    const asked = JSON.parse((await ctl('olga', 'enforce', '--customer', 'acme', '--action', 'smtp_block', '--reason', 'spam wave from every server', '--json')).out);
    expect(asked.approvalId).toMatch(/^apr-/);
    expect((await controller.store.desired.get('web-01')).generation).toBe(0);
    const self = await ctl('olga', 'approve', asked.approvalId);
    expect(self).toMatchObject({ code: 1, err: expect.stringMatching(/cannot approve|own request|same/i) });
    const granted = await ctl('omar', 'approve', asked.approvalId);
    expect(granted.code).toBe(0);
    for (const h of ['web-01', 'web-02', 'web-03']) {
      const d = await controller.store.desired.get(h);
      expect(d.enforcements.map((e) => e.action.kind)).toEqual(['smtp_block']);
      expect(d.enforcements[0]!.reason).toMatch(/approved by omar, requested by olga/);
    }
  });

  it('verifies the audit chain', async () => {
    expect(await ctl('vic', 'audit', 'verify')).toMatchObject({ code: 0, out: expect.stringMatching(/^audit chain OK \(\d+ rows\)/) });
  });
});
