import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INTAKE_LIMITS } from '../../controller/intake/limits.js';
import { runController, type Controller } from '../../controller/runController.js';
import { openTestStore } from '../helpers/testStore.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { freePort } from '../helpers/freePort.js';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';

/**
 * Large reports through the real desk (cordonctl → mutual-TLS gRPC → the
 * controller's parse worker → SQLite): a report over the old 4 MiB gRPC limit
 * is accepted, one over intake.limits.maxReportBytes is refused by name
 * (whether the controller reads it or gRPC stops it at the door), and
 * `ingest --maildir` sets such a message aside instead of retrying it forever.
 */
const run = promisify(execFile);
const MiB = 1024 * 1024;
const MAX = 6 * MiB; // this controller's intake.limits.maxReportBytes: its gRPC limit is 7 MiB

/** An ARF report about 203.0.113.10, padded with a text part of short lines to `size` bytes. */
function arfOfSize(size: number, id: string): Buffer {
  const head = [
    'From: "FBL" <fbl@mailbox.example>',
    'To: abuse@provider.example',
    'Subject: abuse report',
    'Date: Mon, 2 Nov 2026 10:00:00 +0000',
    `Message-ID: <${id}@fbl.mailbox.example>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"',
    '',
    '--b1',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'Version: 1',
    'Source-IP: 203.0.113.10',
    'Arrival-Date: Mon, 2 Nov 2026 09:58:04 +0000',
    '',
    '--b1',
    'Content-Type: text/plain; name="maillog.txt"',
    'Content-Disposition: attachment; filename="maillog.txt"',
    '',
    '',
  ].join('\r\n');
  const tail = '\r\n--b1--\r\n';
  const line = `${'x'.repeat(98)}\r\n`;
  const room = size - head.length - tail.length;
  return Buffer.concat([Buffer.from(head), Buffer.from(line.repeat(Math.floor(room / line.length)) + '.'.repeat(room % line.length)), Buffer.from(tail)]);
}

describe('large reports through the desk', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;

  const ctl = async (...args: string[]) => {
    try {
      const r = await run(process.execPath, [join(DIST, 'controller/cli/cordonctl.cjs'), '--server-name', 'localhost', '--pki', pki.dir, '--operator', 'olga', ...args], { maxBuffer: 16 * MiB });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout, err: e.stderr };
    }
  };
  const at = () => ['--controller', `127.0.0.1:${controller.server.port}`];
  const stored = async () => (await controller.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM complaints'))!.n;

  beforeAll(async () => {
    pki = new TestPki();
    pki.operator('olga', 'abuse_operator');
    work = mkdtempSync(join(tmpdir(), 'cordon-ingest-limits-'));
    const store = await openTestStore(join(work, 'cordon.db'));
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.255.0.10' });
    controller = await runController(controllerSettings(pki, store, { intake: { limits: { ...DEFAULT_INTAKE_LIMITS, maxReportBytes: MAX }, parseWorkers: 1 } }));
  });
  afterAll(async () => {
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('accepts a 5 MiB report (over the old 4 MiB gRPC limit) and stores it whole', async () => {
    const report = arfOfSize(5 * MiB, 'five');
    writeFileSync(join(work, 'five.eml'), report);
    const r = await ctl(...at(), 'ingest', join(work, 'five.eml'));
    expect(r).toMatchObject({ code: 0, out: expect.stringMatching(/^(opened|merged): /) });
    const row = await controller.store.db.get<{ raw: string }>('SELECT COALESCE(b.text, c.raw) AS raw FROM complaints c LEFT JOIN blobs b ON b.sha256 = c.raw_sha256');
    expect(row!.raw).toBe(report.toString('utf8'));
  });

  it('refuses a report over intake.limits.maxReportBytes by name, whether the controller or gRPC stops it; nothing is stored', async () => {
    const before = await stored();
    // Over the limit but within the gRPC message limit: the controller reads the request and refuses it.
    const over = arfOfSize(MAX + 500_000, 'over');
    writeFileSync(join(work, 'over.eml'), over);
    const r1 = await ctl(...at(), 'ingest', join(work, 'over.eml'));
    expect(r1.code).not.toBe(0);
    expect(r1.err).toBe(`cordonctl: over intake.limits.maxReportBytes (${over.length} > ${MAX}) in the report\n`);
    // Over the gRPC message limit too: refused at the door, and cordonctl says which limit that is.
    const huge = arfOfSize(8 * MiB, 'huge');
    writeFileSync(join(work, 'huge.eml'), huge);
    const r2 = await ctl(...at(), 'ingest', join(work, 'huge.eml'));
    expect(r2.code).not.toBe(0);
    expect(r2.err).toBe(`cordonctl: the controller refused a report of ${huge.length} bytes: over its intake.limits.maxReportBytes\n`);
    expect(await stored()).toBe(before);
  });

  it('maildir: a refused message is set aside in .cordon-failed/ with its reason; the others are processed', async () => {
    const md = join(work, 'Maildir');
    for (const d of ['new', 'cur', 'tmp']) mkdirSync(join(md, d), { recursive: true });
    writeFileSync(join(md, 'new', '1700000001.1.host'), arfOfSize(20_000, 'small'));
    writeFileSync(join(md, 'new', '1700000001.2.host'), arfOfSize(MAX + 1, 'just-over'));
    writeFileSync(join(md, 'new', '1700000001.3.host'), arfOfSize(8 * MiB, 'far-over'));
    const r = await ctl(...at(), 'ingest', '--maildir', md);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/1 processed, 0 kept for the next run, 2 set aside in \.cordon-failed\/\n$/);
    expect(readdirSync(join(md, 'new'))).toEqual([]);
    expect(readdirSync(join(md, 'cur'))).toEqual(['1700000001.1.host:2,']);
    const failed = join(md, '.cordon-failed');
    expect(readdirSync(failed).sort()).toEqual(['1700000001.2.host', '1700000001.2.host.reason', '1700000001.3.host', '1700000001.3.host.reason']);
    expect(readFileSync(join(failed, '1700000001.2.host.reason'), 'utf8')).toMatch(new RegExp(`refused \\(invalid\\): over intake\\.limits\\.maxReportBytes \\(${MAX + 1} > ${MAX}\\) in the report\\n$`));
    expect(readFileSync(join(failed, '1700000001.3.host.reason'), 'utf8')).toMatch(/refused \(invalid\): the controller refused a report of \d+ bytes: over its intake\.limits\.maxReportBytes\n$/);
    // The next run has nothing left to retry.
    const again = await ctl(...at(), 'ingest', '--maildir', md);
    expect(again).toMatchObject({ code: 0, out: '0 processed, 0 kept for the next run, 0 set aside in .cordon-failed/\n' });
  });

  it('maildir: with the controller unreachable, every message stays in new/ for the next run', async () => {
    const md = join(work, 'Maildir-down');
    for (const d of ['new', 'cur', 'tmp']) mkdirSync(join(md, d), { recursive: true });
    writeFileSync(join(md, 'new', '1700000002.1.host'), arfOfSize(20_000, 'later'));
    writeFileSync(join(md, 'new', '1700000002.2.host'), arfOfSize(8 * MiB, 'later-big'));
    const r = await ctl('--controller', `127.0.0.1:${await freePort()}`, 'ingest', '--maildir', md);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/1700000002\.1\.host: kept in new\//);
    expect(r.out).toMatch(/0 processed, 2 kept for the next run, 0 set aside in \.cordon-failed\/\n$/);
    expect(readdirSync(join(md, 'new')).sort()).toEqual(['1700000002.1.host', '1700000002.2.host']);
    expect(existsSync(join(md, '.cordon-failed'))).toBe(false);
  });
});
