import { linkSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bmc, Host } from '../../proto/gen/cordon/v1/desk.js';
import type { CordonError } from '../../proto/runtime/CordonError.js';
import { DeskClient } from '../../controller/cli/deskClient.js';
import { MailSender } from '../../controller/mail/MailSender.js';
import { runController, type Controller } from '../../controller/runController.js';
import { openTestStore } from '../helpers/testStore.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { cordonctl } from '../helpers/cordonctl.js';
import { waitFor } from '../helpers/waitFor.js';
import { decodedBody, parseMime } from '../unit/mail/parseMime.js';
import { SmtpSink } from '../unit/mail/smtpSink.js';

const DESK = { from: 'abuse@hoster.example', replyTo: 'abuse-replies@hoster.example', name: 'Hoster Abuse Desk' };
const PASSWORD = 'hunter2-not-in-any-log';

/**
 * The two insider holes, closed, against a real mTLS controller on a real
 * SQLite file with a real SMTP server: a technician cannot redirect a
 * customer's notices through AddHost, nor aim a BMC password file at an
 * address of their choosing.
 */
describe('customer contacts and BMC credentials over the desk', () => {
  let pki: TestPki;
  let work: string;
  let creds: string;
  let sink: SmtpSink;
  let controller: Controller;
  const clients: Record<string, DeskClient> = {};

  const as = (operator: string) => clients[operator]!;
  const failure = async (p: Promise<unknown>): Promise<CordonError> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'the call should have been refused').toBeDefined();
    return err as CordonError;
  };
  const host = (id: string, n: number, over: Partial<Host> = {}): Host => ({
    id,
    customerId: 'acme',
    publicPrefixes: [`203.0.113.${n}/32`],
    managementAddress: `10.255.0.${n}`,
    agentState: 0,
    customerName: '',
    customerEmail: '',
    ...over,
  });
  const bmc = (passwordFile: string, over: Partial<Bmc> = {}): Bmc => ({ address: '10.255.9.10', port: 623, user: 'cordon', passwordFile, sol: false, cipherSuite: 0, ...over });
  const audit = async (action: string) => (await controller.store.audit.list({ limit: 10_000 })).filter((e) => e.action === action);
  const ctl = cordonctl(() => controller.server.port, () => pki.dir);

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-hostdesk-'));
    creds = join(work, 'bmc');
    mkdirSync(creds, { mode: 0o700 });
    for (const f of ['web-01.pw', 'web-02.pw', 'web-05.pw']) writeFileSync(join(creds, f), PASSWORD, { mode: 0o600 });
    writeFileSync(join(work, 'elsewhere.pw'), PASSWORD, { mode: 0o600 });
    symlinkSync(join(work, 'elsewhere.pw'), join(creds, 'escape.pw'));
    symlinkSync(join(creds, 'web-01.pw'), join(creds, 'alias-of-web-01.pw'));
    sink = await SmtpSink.start();
    const roles: [string, string][] = [['tess', 'technician'], ['olga', 'abuse_operator'], ['ada', 'admin'], ['vic', 'viewer']];
    const store = await openTestStore(join(work, 'cordon.db'));
    controller = await runController(
      controllerSettings(pki, store, {
        mail: { transport: new MailSender({ host: '127.0.0.1', port: sink.port, secure: false, from: DESK.from, replyTo: DESK.replyTo }), desk: DESK, maxAttempts: 3 },
        bmcCredentialsDir: creds,
      }),
    );
    for (const [name, role] of roles) {
      clients[name] = new DeskClient({ address: `127.0.0.1:${controller.server.port}`, serverName: 'localhost', tls: pki.operator(name, role) }, { timeoutMs: 5_000 });
    }
  });
  afterAll(async () => {
    for (const c of Object.values(clients)) c.close();
    await controller?.stop(500);
    await controller?.store.close();
    await sink?.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('AddHost never changes an existing customer', () => {
    it('creates a new customer, and takes the same contact again', async () => {
      const first = await as('tess').call<unknown, Host>('addHost', { host: host('web-01', 1, { customerName: 'ACME', customerEmail: 'ops@acme.example' }) });
      expect(first).toMatchObject({ customerName: 'ACME', customerEmail: 'ops@acme.example' });
      await as('tess').call('addHost', { host: host('web-02', 2, { customerName: 'ACME', customerEmail: 'ops@acme.example' }) });
      await as('tess').call('addHost', { host: host('web-03', 3) });
      expect(await controller.store.customers.get('acme')).toEqual({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    });

    it("refuses a technician's other email for an existing customer, naming the field and the way to do it", async () => {
      const err = await failure(as('tess').call('addHost', { host: host('web-04', 4, { customerEmail: 'attacker@evil.example' }) }));
      expect(err).toMatchObject({ kind: 'conflict', field: 'host.customerEmail' });
      expect(err.message).toMatch(/cordonctl customer set-contact acme/);
      const renamed = await failure(as('tess').call('addHost', { host: host('web-04', 4, { customerName: 'Evil Corp' }) }));
      expect(renamed).toMatchObject({ kind: 'conflict', field: 'host.customerName' });
      // Nothing of it stuck: not the contact, not the host.
      expect(await controller.store.customers.get('acme')).toEqual({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
      expect(await controller.store.hosts.get('web-04')).toBeUndefined();
    });

    it('refuses a new customer with an address that is not one', async () => {
      for (const email of ['ops@localhost', 'a b@example.org', 'ops@@example.org', '"x"@example.org', 'ops@[192.0.2.1]', 'ops@example.org>, <x@evil.example']) {
        const err = await failure(as('tess').call('addHost', { host: host('web-09', 9, { customerId: 'newco', customerEmail: email }) }));
        expect(err, email).toMatchObject({ kind: 'invalid', field: 'host.customerEmail' });
      }
      expect(await controller.store.customers.get('newco')).toBeUndefined();
    });
  });

  describe('SetCustomerContact', () => {
    it("refuses a technician (permission) and changes nothing", async () => {
      const err = await failure(as('tess').call('setCustomerContact', { customerId: 'acme', email: 'attacker@evil.example', name: '', reason: 'customer asked' }));
      expect(err.kind).toBe('permission');
      expect(await controller.store.customers.get('acme')).toMatchObject({ email: 'ops@acme.example' });
    });

    it('needs a reason and a real address', async () => {
      expect(await failure(as('olga').call('setCustomerContact', { customerId: 'acme', email: 'new@acme.example', name: '', reason: ' ' }))).toMatchObject({ kind: 'invalid', field: 'reason' });
      expect(await failure(as('olga').call('setCustomerContact', { customerId: 'acme', email: 'new@acme', name: '', reason: 'r' }))).toMatchObject({ kind: 'invalid', field: 'email' });
      expect(await failure(as('olga').call('setCustomerContact', { customerId: 'nobody', email: 'new@acme.example', name: '', reason: 'r' }))).toMatchObject({ kind: 'not_found' });
      expect(await controller.store.customers.get('acme')).toMatchObject({ email: 'ops@acme.example' });
    });

    it("stores an abuse_operator's change, audits old and new, and tells the old address", async () => {
      const c = await as('olga').call<unknown, { id: string; name: string; email: string }>('setCustomerContact', {
        customerId: 'acme',
        email: 'jane.doe@acme-ops.example',
        name: 'ACME Operations',
        reason: 'ticket 4711: the customer moved their NOC mailbox',
      });
      expect(c).toEqual({ id: 'acme', name: 'ACME Operations', email: 'jane.doe@acme-ops.example' });
      expect(await controller.store.customers.get('acme')).toEqual(c);

      const [entry, ...more] = await audit('customer.contact');
      expect(more).toHaveLength(0);
      expect(entry).toMatchObject({
        actor: 'olga',
        subject: 'acme',
        detail: {
          before: { name: 'ACME', email: 'ops@acme.example' },
          after: { name: 'ACME Operations', email: 'jane.doe@acme-ops.example' },
          reason: 'ticket 4711: the customer moved their NOC mailbox',
        },
      });

      const mail = await waitFor('the mail to the old address', () => sink.received.find((m) => m.rcptTo.includes('ops@acme.example')));
      expect(mail.rcptTo).toEqual(['ops@acme.example']);
      const message = parseMime(mail.raw);
      expect(message.headers.get('subject')).toMatch(/Your abuse-notice address was changed/);
      expect(message.headers.get('x-cordon-template')).toBe('contact_changed');
      const text = decodedBody(message).toString('utf8').replace(/\s+/g, ' ');
      expect(text).toContain('j***@acme-ops.example');
      expect(text).not.toContain('jane.doe@acme-ops.example');
      expect(text).toContain(DESK.name);
      expect(text).toMatch(/did not ask for this change, object now/);
      expect(text).toContain((entry!.detail as { reference: string }).reference);
      // The outbox row had no incident and is done: the worker marks it after the relay's answer, which may come after the sink has the mail.
      await waitFor('the outbox row marked done', async () => ((await controller.store.outbox.list({ status: 'done' })).some((m) => m.incidentId === undefined) ? true : undefined));
      expect((await as('vic').call<unknown, { ok: boolean }>('verifyAudit', {})).ok).toBe(true);
    });
  });

  describe('BMC credentials are bound by an admin', () => {
    it("refuses a technician's AddHost with a bmc block, naming the field and set-bmc", async () => {
      const err = await failure(as('tess').call('addHost', { host: host('web-04', 4, { bmc: bmc(join(creds, 'web-01.pw'), { address: '198.51.100.66' }) }) }));
      expect(err).toMatchObject({ kind: 'permission', field: 'host.bmc' });
      expect(err.message).toMatch(/cordonctl host set-bmc web-04/);
      expect(await controller.store.hosts.get('web-04')).toBeUndefined();
    });

    it('refuses SetHostBmc to a technician and an abuse_operator', async () => {
      for (const who of ['tess', 'olga']) {
        const err = await failure(as(who).call('setHostBmc', { hostId: 'web-01', bmc: bmc(join(creds, 'web-01.pw')) }));
        expect(err.kind, who).toBe('permission');
      }
      expect(await controller.store.bmcs.get('web-01')).toBeUndefined();
    });

    it("binds an admin's BMC, audited without the password", async () => {
      const h = await as('ada').call<unknown, Host>('setHostBmc', { hostId: 'web-01', bmc: bmc(join(creds, 'web-01.pw'), { sol: true, cipherSuite: 17 }) });
      const real = realpathSync(join(creds, 'web-01.pw'));
      expect(h.bmc).toEqual({ address: '10.255.9.10', port: 623, user: 'cordon', passwordFile: real, sol: true, cipherSuite: 17 });
      expect(await controller.store.bmcs.get('web-01')).toMatchObject({ address: '10.255.9.10', passwordFile: real, sol: true, cipherSuite: 17 });
      const [entry] = await audit('bmc.set');
      expect(entry).toMatchObject({ actor: 'ada', subject: 'web-01', detail: { before: null, after: { address: '10.255.9.10', passwordFile: real } } });
      expect(JSON.stringify(await controller.store.audit.list({ limit: 10_000 }))).not.toContain(PASSWORD);
    });

    it("refuses a second host naming the same password file, directly or through a link", async () => {
      mkdirSync(join(creds, 'sub'));
      // Template strings, not join(): join would fold the ../ away before the controller saw it.
      for (const file of [join(creds, 'web-01.pw'), join(creds, 'alias-of-web-01.pw'), `${creds}/sub/../web-01.pw`]) {
        const err = await failure(as('ada').call('setHostBmc', { hostId: 'web-02', bmc: bmc(file) }));
        expect(err, file).toMatchObject({ kind: 'conflict', field: 'bmc.passwordFile' });
        expect(err.message).toMatch(/bound to host web-01/);
      }
      expect(await controller.store.bmcs.get('web-02')).toBeUndefined();
    });

    it('refuses a file outside bmc.credentialsDir, by ../, by a symlink out, by a hard link, or by a relative path', async () => {
      const refused: [string, string][] = [
        [`${creds}/../elsewhere.pw`, 'refused'],
        [join(creds, 'escape.pw'), 'refused'],
        ['/etc/passwd', 'refused'],
        [creds, 'refused'],
        ['bmc/web-02.pw', 'invalid'],
        [join(creds, 'missing.pw'), 'invalid'],
      ];
      for (const [file, kind] of refused) {
        const err = await failure(as('ada').call('setHostBmc', { hostId: 'web-02', bmc: bmc(file) }));
        expect(err, file).toMatchObject({ kind, field: 'bmc.passwordFile' });
      }
      linkSync(join(creds, 'web-02.pw'), join(creds, 'web-02-again.pw'));
      try {
        const err = await failure(as('ada').call('setHostBmc', { hostId: 'web-02', bmc: bmc(join(creds, 'web-02-again.pw')) }));
        expect(err).toMatchObject({ kind: 'refused', field: 'bmc.passwordFile' });
        expect(err.message).toMatch(/hard links/);
      } finally {
        unlinkSync(join(creds, 'web-02-again.pw'));
      }
      expect(await controller.store.bmcs.get('web-02')).toBeUndefined();
    });

    it("lets an admin add a host with its BMC, bound the same way", async () => {
      const err = await failure(as('ada').call('addHost', { host: host('web-05', 5, { bmc: bmc(join(creds, 'escape.pw')) }) }));
      expect(err).toMatchObject({ kind: 'refused', field: 'host.bmc.passwordFile' });
      expect(await controller.store.hosts.get('web-05')).toBeUndefined();
      await as('ada').call('addHost', { host: host('web-05', 5, { bmc: bmc(join(creds, 'web-05.pw')) }) });
      expect(await controller.store.bmcs.get('web-05')).toMatchObject({ passwordFile: realpathSync(join(creds, 'web-05.pw')) });
    });
  });

  describe('cordonctl', () => {
    it('customer set-contact and show, host set-bmc: refusals with one line, success with a summary', async () => {
      const tech = await ctl('tess', 'customer', 'set-contact', 'acme', '--email', 'x@evil.example', '--reason', 'r');
      expect(tech).toMatchObject({ code: 1, err: expect.stringMatching(/^cordonctl: .*needs role abuse_operator/) });
      const ok = await ctl('olga', 'customer', 'set-contact', 'acme', '--email', 'noc@acme-ops.example', '--reason', 'ticket 4712');
      expect(ok).toMatchObject({ code: 0, out: 'customer acme: notices go to noc@acme-ops.example (ACME Operations); the previous address is told\n' });
      const shown = JSON.parse((await ctl('vic', 'customer', 'show', 'acme', '--json')).out) as { email: string; hosts: string[] };
      expect(shown).toMatchObject({ email: 'noc@acme-ops.example', hosts: ['web-01', 'web-02', 'web-03', 'web-05'] });
      await waitFor('the second mail to the previous address', () => sink.received.find((m) => m.rcptTo.includes('jane.doe@acme-ops.example')));

      const noAdmin = await ctl('olga', 'host', 'set-bmc', 'web-02', '--address', '10.255.9.12', '--user', 'cordon', '--password-file', join(creds, 'web-02.pw'));
      expect(noAdmin).toMatchObject({ code: 1, err: expect.stringMatching(/needs role admin/) });
      const set = await ctl('ada', 'host', 'set-bmc', 'web-02', '--address', '10.255.9.12', '--user', 'cordon', '--password-file', join(creds, 'web-02.pw'), '--sol');
      expect(set).toMatchObject({ code: 0, out: `host web-02: BMC 10.255.9.12:623 as cordon, password file ${realpathSync(join(creds, 'web-02.pw'))}\n` });
      const techAdd = await ctl('tess', 'host', 'add', '--id', 'web-06', '--customer', 'acme', '--prefix', '203.0.113.6/32', '--management', '10.255.0.6', '--bmc-address', '198.51.100.66', '--bmc-user', 'root', '--bmc-password-file', join(creds, 'web-02.pw'));
      expect(techAdd).toMatchObject({ code: 1, err: expect.stringMatching(/^cordonctl: host\.bmc: .*cordonctl host set-bmc web-06/) });
    });
  });
});
