import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskClient } from '../../controller/cli/deskClient.js';
import { ManualClock } from '../../controller/clock.js';
import { runController, type Controller } from '../../controller/runController.js';
import { seedConfiguredReporters } from '../../controller/store/seedConfiguredReporters.js';
import { openTestStore } from '../helpers/testStore.js';
import { DeskServiceService } from '../../proto/gen/cordon/v1/desk.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { cordonctl } from '../helpers/cordonctl.js';


/**
 * `cordonctl reporter …`, built, against a real controller on a real SQLite
 * file: roles from the certificates, the registry's refusals as one line
 * naming the field, the audit trail; and a feed certificate (issued by the
 * real PKI script) that may submit complaints and nothing else.
 */
describe('the reporter registry over the desk', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  const clock = new ManualClock(new Date('2026-11-02T09:00:00Z'));

  const ctl = cordonctl(() => controller.server.port, () => pki.dir);

  beforeAll(async () => {
    pki = new TestPki();
    pki.operator('ada', 'admin');
    pki.operator('olga', 'abuse_operator');
    pki.operator('vic', 'viewer');
    pki.run('issue-feed', 'shadow');
    work = mkdtempSync(join(tmpdir(), 'cordon-reporters-'));
    const store = await openTestStore(join(work, 'cordon.db'));
    await seedConfiguredReporters(store, [{ id: 'cert-example', name: 'Example CERT', kind: 'cert', domains: ['cert.example'], arcForwarder: false }], clock.now());
    controller = await runController(controllerSettings(pki, store, { clock }));
  });
  afterAll(async () => {
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('lets an admin add a reporter, and only an admin', async () => {
    const add = ['reporter', 'add', '--id', 'lists', '--name', 'Example Lists', '--kind', 'upstream', '--domain', 'FWD.example', '--domain', 'lists.example', '--arc-forwarder'];
    expect(await ctl('ada', ...add)).toMatchObject({ code: 0, out: 'reporter lists added (upstream: fwd.example, lists.example)\n' });
    const refused = await ctl('olga', ...add);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/AddReporter needs role admin or above; olga is abuse_operator/);
    const again = await ctl('ada', ...add);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/reporter\.id: reporter lists already exists/);
  });

  it('refuses a bad reporter with one line naming the field', async () => {
    const anonymous = await ctl('ada', 'reporter', 'add', '--id', 'anon', '--name', 'Anon', '--kind', 'anonymous', '--domain', 'anon.example');
    expect(anonymous).toMatchObject({ code: 2, err: expect.stringMatching(/^cordonctl: reporter\.kind: anonymous is what an unregistered sender is/) });
    const taken = await ctl('ada', 'reporter', 'add', '--id', 'copycat', '--name', 'Copycat', '--kind', 'cert', '--domain', 'cert.example');
    expect(taken).toMatchObject({ code: 1, err: expect.stringContaining('reporter.domains[0]: cert.example already belongs to reporter cert-example') });
    const nothing = await ctl('ada', 'reporter', 'add', '--id', 'x', '--name', 'X', '--kind', 'cert');
    expect(nothing).toMatchObject({ code: 2, err: expect.stringContaining('--domain: at least one --domain, or a --feed, is required') });
  });

  it('lists the registry to a viewer, with where each entry came from', async () => {
    const list = JSON.parse((await ctl('vic', 'reporter', 'list', '--json')).out) as { id: string; source: string; addedBy: string; arcForwarder?: boolean; domains: string[] }[];
    expect(list).toEqual([
      expect.objectContaining({ id: 'cert-example', source: 'config', addedBy: 'config', domains: ['cert.example'] }),
      expect.objectContaining({ id: 'lists', source: 'desk', addedBy: 'ada', arcForwarder: true, domains: ['fwd.example', 'lists.example'] }),
    ]);
    const table = (await ctl('vic', 'reporter', 'list')).out;
    expect(table).toMatch(/^ID\s+NAME\s+KIND\s+DOMAINS/);
    expect(table).toMatch(/lists\s+Example Lists\s+upstream\s+fwd\.example lists\.example\s+yes/);
  });

  it('refuses to remove a config reporter (naming the config key), removes a desk one, and audits old and new values', async () => {
    const config = await ctl('ada', 'reporter', 'remove', 'cert-example');
    expect(config.code).toBe(1);
    expect(config.err).toMatch(/reporters: reporter cert-example comes from the controller's config: remove it from the config key "reporters"/);
    expect(await ctl('ada', 'reporter', 'remove', 'lists')).toMatchObject({ code: 0, out: 'reporter lists removed\n' });
    expect(await ctl('ada', 'reporter', 'remove', 'lists')).toMatchObject({ code: 1, err: expect.stringContaining('no reporter lists') });
    const audit = await controller.store.db.all<{ actor: string; action: string; subject: string; detail: string }>("SELECT actor, action, subject, detail_json AS detail FROM audit_log WHERE action LIKE 'reporter.%' ORDER BY id");
    expect(audit.map((e) => `${e.actor} ${e.action} ${e.subject}`)).toEqual(['config reporter.add cert-example', 'ada reporter.add lists', 'ada reporter.remove lists']);
    expect(JSON.parse(audit[1]!.detail)).toMatchObject({ old: null, new: { id: 'lists', kind: 'upstream', domains: ['fwd.example', 'lists.example'], arcForwarder: true } });
    expect(JSON.parse(audit[2]!.detail)).toMatchObject({ old: { id: 'lists', addedBy: 'ada' }, new: null });
  });

  it('lets a feed certificate submit complaints and call nothing else', async () => {
    const feed = new DeskClient({ address: `127.0.0.1:${controller.server.port}`, serverName: 'localhost', tls: pki.material('feed-shadow') }, { timeoutMs: 5_000 });
    try {
      const methods = Object.entries(DeskServiceService).filter(([m]) => m !== 'submitComplaint');
      expect(methods.length).toBeGreaterThan(20);
      for (const [method, def] of methods) {
        // An empty message of the method's own type (decoding no bytes gives every field its default).
        const request = def.requestDeserialize(Buffer.alloc(0));
        await expect(feed.call(method as never, request), method).rejects.toMatchObject({ kind: 'permission', message: expect.stringContaining('not open to feed certificates') });
      }
      // SubmitComplaint gets past authorisation (what the handler then makes of the request is not this test's).
      const submitted = await feed.call('submitComplaint', { ip: '', category: '', reporter: '', reporterKind: '', evidence: '', raw: 'hello', filename: '', report: Buffer.alloc(0) }).then(
        () => 'ok',
        (err: Error) => err.message,
      );
      expect(submitted).not.toMatch(/not open to feed certificates/);
    } finally {
      feed.close();
    }
  });
});
