import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runController, type Controller } from '../../controller/runController.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { openTestStore } from '../helpers/testStore.js';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';
import { cordonctl } from '../helpers/cordonctl.js';

const run = promisify(execFile);

const ARF = [
  'From: "FBL" <fbl@mailbox.example>',
  'To: abuse@provider.example',
  'Subject: FW: abuse report',
  'Date: Mon, 2 Nov 2026 10:00:00 +0000',
  'MIME-Version: 1.0',
  'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain',
  '',
  'This is an email abuse report for an email message received from IP 203.0.113.10.',
  '--b1',
  'Content-Type: message/feedback-report',
  '',
  'Feedback-Type: abuse',
  'User-Agent: Example-FBL/1.0',
  'Version: 1',
  'Source-IP: 203.0.113.10',
  'Arrival-Date: Mon, 2 Nov 2026 09:58:04 -0700 (PDT)',
  '',
  '--b1',
  'Content-Type: text/rfc822-headers',
  '',
  'Received: from mail.customer.example (mail.customer.example [203.0.113.10]) by mx.mailbox.example',
  'From: offers@customer.example',
  'Subject: cheap',
  '',
  '--b1--',
  '',
].join('\r\n');

describe('cordonctl ingest', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;

  const asOlga = cordonctl(() => controller.server.port, () => pki.dir);
  const ctl = (...args: string[]) => asOlga('olga', ...args);

  beforeAll(async () => {
    pki = new TestPki();
    pki.operator('olga', 'abuse_operator');
    work = mkdtempSync(join(tmpdir(), 'cordon-ingest-'));
    const store = await openTestStore(join(work, 'cordon.db'));
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.255.0.10' });
    controller = await runController(controllerSettings(pki, store));
    writeFileSync(join(work, 'arf.eml'), ARF);
    writeFileSync(join(work, 'nothing.txt'), 'Hello, your server is bad. Please fix it.\n');
  });
  afterAll(async () => {
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('shows what it would make of a report, without a controller', async () => {
    const r = await run(process.execPath, [join(DIST, 'controller/cli/cordonctl.cjs'), 'ingest', '--dry-run', '--json', join(work, 'arf.eml')]);
    expect(JSON.parse(r.stdout)).toEqual({
      complaints: [
        { ip: '203.0.113.10', category: 'spam', eventTime: '2026-11-02T16:58:04.000Z', eventTimeSource: 'report', reporter: expect.stringContaining('fbl@mailbox.example'), reporterKind: 'upstream', format: 'arf', evidence: expect.any(String) },
      ],
      needsInfo: null,
      // The format's guess of the reporter's kind is not trust: an unsigned report without a registry is untrusted.
      authentication: expect.objectContaining({ trusted: false }),
    });
    const none = await run(process.execPath, [join(DIST, 'controller/cli/cordonctl.cjs'), 'ingest', '--dry-run', '--json', join(work, 'nothing.txt')]);
    expect(JSON.parse(none.stdout)).toMatchObject({ complaints: [], needsInfo: expect.any(String) });
  });

  it('submits a report: the controller parses, routes and stores it; an unreadable one is kept as needs_info', async () => {
    const r = await ctl('ingest', join(work, 'arf.eml'));
    expect(r).toMatchObject({ code: 0, out: expect.stringMatching(/^opened: opened incident inc-/) });
    const kept = await ctl('ingest', join(work, 'nothing.txt'));
    expect(kept.out).toMatch(/^needs_info: /);
    const all = await controller.store.db.all<{ status: string; raw: string }>('SELECT status, raw FROM complaints ORDER BY received_at');
    expect(all.map((c) => c.status)).toEqual(['linked', 'needs_info']);
    expect(all[0]!.raw).toBe(ARF); // byte for byte
  });

  it('processes a maildir: new/ to cur/ once committed', async () => {
    const md = join(work, 'Maildir');
    for (const d of ['new', 'cur', 'tmp']) mkdirSync(join(md, d), { recursive: true });
    writeFileSync(join(md, 'new', '1700000000.1.host'), ARF);
    writeFileSync(join(md, 'new', '1700000000.2.host'), 'no offender here\n');
    const r = await ctl('ingest', '--maildir', md);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/2 processed, 0 kept/);
    expect(readdirSync(join(md, 'new'))).toEqual([]);
    expect(readdirSync(join(md, 'cur')).sort()).toEqual(['1700000000.1.host:2,', '1700000000.2.host:2,']);
  });
});
