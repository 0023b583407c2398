import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrillClock } from '../../controller/clock.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { cordonctl } from '../helpers/cordonctl.js';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';

const run = promisify(execFile);
const ESC = '\u001b';

/**
 * cordonctl readable without --json, built, against a real controller on a
 * drill clock three days ahead: host show, complaints with their evidence
 * (and the raw report only on request, defanged), approvals in words with who
 * decided, complaints by status, ages in the incident clock's terms, and a
 * --help that loads neither gRPC nor the intake stack.
 */
describe('cordonctl, readable', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  const clock = new DrillClock();
  const ctl = cordonctl(() => controller.server.port, () => pki.dir);
  const asFeed = (...args: string[]) => ctl('olga', '--cert', join(pki.dir, 'feed-shadow.crt'), '--key', join(pki.dir, 'feed-shadow.key'), ...args);
  let incidentId = '';
  let complaintId = '';

  beforeAll(async () => {
    pki = new TestPki();
    pki.operator('olga', 'abuse_operator');
    pki.operator('omar', 'abuse_operator');
    pki.operator('ada', 'admin');
    pki.operator('vic', 'viewer');
    pki.run('issue-feed', 'shadow');
    work = mkdtempSync(join(tmpdir(), 'cordon-readable-'));
    const store = await Store.open(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    for (const n of [1, 2]) await store.hosts.add({ id: `web-0${n}`, customerId: 'acme', publicPrefixes: [`203.0.113.${n}/32`], managementAddress: `10.255.0.${n}` });
    // The BMC and switch inventory as an admin's import leaves them; their checks are the controller's own.
    await store.bmcs.set({ hostId: 'web-01', protocol: 'ipmi', address: '10.254.0.1', port: 623, user: 'cordon', passwordFile: '/etc/cordon/bmc/web-01', sol: true, cipherSuite: undefined });
    await store.switches.set('web-01', {
      switchId: 'tor-a1',
      address: '10.253.0.1',
      user: 'cordon',
      privateKeyFile: '/etc/cordon/switch.key',
      hostKeySha256: 'SHA256:AAAA',
      vendor: 'ios',
      hostPort: 'Gi1/0/7',
      protectedPorts: ['Gi1/0/48'],
    });
    controller = await runController(controllerSettings(pki, store, { clock }));
    await store.bmcs.recordCheck('web-01', { reachable: false, checkedAt: clock.now(), error: 'no answer in 3 tries', sol: 'unknown', durationMs: 3000 });
  });
  afterAll(async () => {
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('shows an incident three drill days old as 3d old, on the drill clock, and its complaints with evidence, not the raw report', async () => {
    const raw = join(work, 'report.txt');
    writeFileSync(raw, `Received: from mx.spam-reports.example\r\nSECRET-RAW-HEADER: only in the raw report\r\n\r\nspam from 203.0.113.1 ${ESC}[2J${ESC}]0;pwned${ESC}\\\r\n`);
    const evidence = `Subject: cheap pills\nReceived: from [203.0.113.1]\n${ESC}[31mred${ESC}[0m`;
    const r = await ctl('olga', 'complaint', 'submit', '--ip', '203.0.113.1', '--category', 'spam', '--reporter-kind', 'upstream', '--reporter', 'spamtrap@example.net', '--evidence', evidence, '--raw', raw, '--json');
    expect(r.code).toBe(0);
    ({ incidentId, complaintId } = JSON.parse(r.out) as { incidentId: string; complaintId: string });

    expect((await ctl('ada', 'clock', 'advance', '3d', '--reason', 'drill')).code).toBe(0);

    const list = await ctl('vic', 'incident', 'list');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/OPENED \(drill clock\)/);
    expect(list.out).toMatch(new RegExp(`${incidentId} .* 3d ago\\n`));

    const shown = await ctl('vic', 'incident', 'show', incidentId);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`complaints (1):\n  ${complaintId}  spam from 203.0.113.1  received `);
    expect(shown.out).toMatch(/\(3d ago, drill clock\)  linked/);
    // Typed in by an operator: the operator's certificate is what vouches for it.
    expect(shown.out).toContain('    reported by spamtrap@example.net (upstream), trusted via operator\n');
    expect(shown.out).toContain('    | Subject: cheap pills\n    | Received: from [203.0.113.1]\n    | ?[31mred?[0m\n');
    expect(shown.out).not.toContain('SECRET-RAW-HEADER');
    expect(shown.out).not.toContain(ESC);
  });

  it('prints one raw report on request, as text with control characters shown as ?, for the abuse desk only', async () => {
    const raw = await ctl('olga', 'incident', 'show', incidentId, '--raw', complaintId);
    expect(raw.code).toBe(0);
    expect(raw.out).toBe(`Received: from mx.spam-reports.example\nSECRET-RAW-HEADER: only in the raw report\n\nspam from 203.0.113.1 ?[2J?]0;pwned?\\\n`);
    const viewer = await ctl('vic', 'incident', 'show', incidentId, '--raw', complaintId);
    expect(viewer).toMatchObject({ code: 1, err: expect.stringMatching(/GetComplaintRaw needs role abuse_operator or above; vic is viewer/) });
    const elsewhere = await ctl('olga', 'incident', 'show', 'inc-nope', '--raw', complaintId);
    expect(elsewhere).toMatchObject({ code: 1, err: `cordonctl: --raw: complaint ${complaintId} is not one of incident inc-nope's\n` });
    const none = await ctl('olga', 'incident', 'show', incidentId, '--raw', 'cmp-nope');
    expect(none).toMatchObject({ code: 1, err: expect.stringMatching(/no complaint cmp-nope/) });
    expect(viewer.out + elsewhere.out + none.out).toBe('');
  });

  it('shows a host readably: customer, BMC and its last check, agent, generations, switch port, enforcements with incident and reason', async () => {
    expect((await ctl('olga', 'enforce', '--incident', incidentId, '--action', 'smtp_block', '--reason', 'spam run from the shop VM')).code).toBe(0);
    const r = await ctl('vic', 'host', 'show', 'web-01');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^host web-01\n/);
    expect(r.out).toContain('customer:    acme (ACME <ops@acme.example>)');
    expect(r.out).toContain('prefixes:    203.0.113.1/32');
    expect(r.out).toContain('management:  10.255.0.1');
    expect(r.out).toMatch(/BMC: {9}10\.254\.0\.1:623 as cordon, SOL required; last check \S+ \(3d ago, drill clock\): did NOT answer, SOL unknown: no answer in 3 tries/);
    expect(r.out).toContain('agent:       never seen since the controller started');
    expect(r.out).toContain('generation:  desired 1, applied 0 (NOT delivered: the agent is not connected)');
    expect(r.out).toContain('switch port: Gi1/0/7 on tor-a1 (10.253.0.1, ios): not shut by Cordon');
    expect(r.out).not.toContain('/etc/cordon/switch.key');
    expect(r.out).toMatch(new RegExp(`enforcements in force \\(1\\):\\nENFORCEMENT +ACTION +INCIDENT +REASON\\n\\S+ +outbound SMTP \\(ports 25, 465, 587\\) blocked +${incidentId} +by olga: spam run from the shop VM\\n`));
    const json = JSON.parse((await ctl('vic', 'host', 'show', 'web-01', '--json')).out) as { host: { bmc: { address: string } }; switchPort: { hostPort: string } };
    expect(json).toMatchObject({ host: { bmc: { address: '10.254.0.1' } }, switchPort: { hostPort: 'Gi1/0/7' } });
    const bare = await ctl('vic', 'host', 'show', 'web-02');
    expect(bare.out).toContain('BMC:         none recorded');
    expect(bare.out).toContain('enforcements in force: none');
    expect(await ctl('vic', 'host', 'show', 'web-09')).toMatchObject({ code: 1, err: expect.stringMatching(/no host web-09/) });
  });

  it('lists approvals with the action in words, the hosts, who asked, who granted or refused, and when a pending one lapses', async () => {
    const ask = async () => JSON.parse((await ctl('olga', 'enforce', '--customer', 'acme', '--action', 'throttle', '--rate', '10000000', '--reason', 'outbound flood', '--json')).out).approvalId as string;
    const granted = await ask();
    const refused = await ask();
    const pending = await ask();
    expect((await ctl('omar', 'approve', granted)).code).toBe(0);
    const rej = await ctl('omar', 'approvals', 'reject', refused, '--reason', 'one host is enough');
    expect(rej).toMatchObject({ code: 0, out: `${refused}: rejected by omar: one host is enough (traffic limited to 10 Mbit/s on web-01, web-02, requested by olga)\n` });
    const r = await ctl('vic', 'approvals');
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('{');
    expect(r.out).toContain(`${granted}  APPROVED  traffic limited to 10 Mbit/s on web-01, web-02\n  requested by olga at `);
    expect(r.out).toMatch(new RegExp(`${granted}[^]*?approved by omar at \\S+ \\(\\ds ago, drill clock\\)`));
    expect(r.out).toMatch(new RegExp(`${refused}  REJECTED[^]*?rejected by omar at `));
    expect(r.out).toMatch(new RegExp(`${pending}  PENDING[^]*?: outbound flood\\n  a second operator is needed: [^\\n]+\\n  expires \\S+ \\(in \\d+h, drill clock\\) unless another operator decides`));
  });

  it('lists complaints by status with one flag each, duplicates with what they repeat, and refuses bad flags naming them', async () => {
    const stray = await ctl('olga', 'complaint', 'submit', '--ip', '198.51.100.7', '--category', 'spam', '--reporter-kind', 'upstream');
    expect(stray.code).toBe(1);
    const mail = join(work, 'nothing.txt');
    writeFileSync(mail, 'Hello, your server is bad. Please fix it.\n');
    expect((await ctl('olga', 'ingest', mail)).out).toMatch(/^needs_info: /);

    const rejected = await ctl('vic', 'complaints', '--rejected');
    expect(rejected.code).toBe(0);
    expect(rejected.out).toMatch(/^COMPLAINT +RECEIVED \(drill clock\) +REPORTER +IP +STATUS +CATEGORY +TRUST +REASON\n/);
    expect(rejected.out).toMatch(/\nc-\S+ +\S+ \(\ds ago\) +- +198\.51\.100\.7 +rejected +spam +trusted \(operator\) +198\.51\.100\.7 is not in any of our public prefixes/);
    expect((await ctl('vic', 'complaints', '--needs-info')).out).toMatch(/\n\S+ .* needs_info /);
    expect((await ctl('vic', 'complaints', '--duplicates')).out).toBe('no duplicate complaints\n');
    expect((await ctl('vic', 'complaints', '--held', '--limit', '5')).out).toBe('no held complaints\n');
    const limited = JSON.parse((await ctl('vic', 'complaints', '--rejected', '--limit', '1', '--json')).out) as unknown[];
    expect(limited).toHaveLength(1);

    const two = await ctl('vic', 'complaints', '--rejected', '--needs-info');
    expect(two).toMatchObject({ code: 2, out: '', err: 'cordonctl: status: give one of --needs-info, --rejected, --duplicates, --held or --status S, not --needs-info and --rejected\n' });
    for (const bad of ['0', '1001', '2x', '-1']) {
      const r = await ctl('vic', 'complaints', '--rejected', `--limit=${bad}`);
      expect(r, bad).toMatchObject({ code: 2, out: '', err: `cordonctl: --limit: must be a whole number from 1 to 1000, got "${bad}"\n` });
    }
    // A feed's certificate submits reports and reads nothing back.
    expect(await asFeed('complaints', '--rejected')).toMatchObject({ code: 1, err: expect.stringMatching(/not open to feed certificates/) });
    expect(await asFeed('incident', 'list')).toMatchObject({ code: 1, err: expect.stringMatching(/not open to feed certificates/) });
  });

  it('shows a duplicate with the complaint it repeats', async () => {
    const mail = join(work, 'arf.eml');
    writeFileSync(
      mail,
      [
        'From: "FBL" <fbl@mailbox.example>',
        'To: abuse@provider.example',
        'Subject: FW: abuse report',
        'Message-ID: <dup-1@mailbox.example>',
        'Date: Mon, 2 Nov 2026 10:00:00 +0000',
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"',
        '',
        '--b1',
        'Content-Type: text/plain',
        '',
        'This is an email abuse report for an email message received from IP 203.0.113.2.',
        '--b1',
        'Content-Type: message/feedback-report',
        '',
        'Feedback-Type: abuse',
        'User-Agent: Example-FBL/1.0',
        'Version: 1',
        'Source-IP: 203.0.113.2',
        'Arrival-Date: Mon, 2 Nov 2026 09:58:04 -0700 (PDT)',
        '',
        '--b1--',
        '',
      ].join('\r\n'),
    );
    const first = await ctl('olga', 'ingest', mail);
    expect(first.code).toBe(0);
    const again = await ctl('olga', 'ingest', mail);
    expect(again.out).toMatch(/^duplicate: /);
    const [original] = await controller.store.db.all<{ id: string }>("SELECT id FROM complaints WHERE ip = '203.0.113.2' AND status != 'duplicate'");
    const r = await ctl('vic', 'complaints', '--duplicates');
    expect(r.out).toMatch(/ DUPLICATE OF +REASON\n/);
    expect(r.out).toMatch(new RegExp(` duplicate .* ${original!.id} `));
  });

  it('names the flag of a certificate file it cannot read, and the address it cannot reach', async () => {
    const main = join(DIST, 'controller/cli/cordonctl.cjs');
    const missing = await run(process.execPath, [main, 'hosts', '--ca', '/nonexistent/ca.crt', '--cert', join(pki.dir, 'operator-vic.crt'), '--key', join(pki.dir, 'operator-vic.key')]).catch((e: { code: number; stderr: string }) => e);
    expect(missing).toMatchObject({ code: 2, stderr: 'cordonctl: --ca: cannot read /nonexistent/ca.crt: ENOENT\n' });
    const closed = await run(process.execPath, [main, 'hosts', '--controller', '127.0.0.1:1', '--pki', pki.dir, '--operator', 'vic']).catch((e: { code: number; stderr: string }) => e);
    expect(closed).toMatchObject({ code: 1, stderr: 'cordonctl: cannot reach 127.0.0.1:1 calling /cordon.v1.DeskService/ListHosts: connect ECONNREFUSED 127.0.0.1:1\n' });
  });

  it('runs as an operator runs it, through its #! line, trusting the Cordon CA alone', async () => {
    const main = join(DIST, 'controller/cli/cordonctl.cjs');
    expect(readFileSync(main, 'utf8').split('\n', 1)[0]).toBe('#!/usr/bin/env -S node --use-openssl-ca');
    const own = await run(main, ['--controller', `127.0.0.1:${controller.server.port}`, '--server-name', 'localhost', '--pki', pki.dir, '--operator', 'vic', 'health']);
    expect(own.stdout).toBe('SERVING\n');
    // The same controller, with a CA file that is not the one that signed it: refused, though this process has no other roots to fall back on.
    const other = new TestPki();
    try {
      const refused = await run(main, ['--controller', `127.0.0.1:${controller.server.port}`, '--server-name', 'localhost', '--ca', join(other.dir, 'ca.crt'), '--cert', join(pki.dir, 'operator-vic.crt'), '--key', join(pki.dir, 'operator-vic.key'), 'health']).catch((e: { code: number; stderr: string }) => e);
      expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/^cordonctl: cannot reach 127\.0\.0\.1:\d+ calling \/grpc\.health\.v1\.Health\/Check: .*certificate/) });
    } finally {
      other.cleanup();
    }
  });

  // cordonctl is one CommonJS bundle (deploy/build/bundleCordonctl.mjs) that names each module it holds in a
  // comment (`// proto/gen/cordon/v1/desk.ts`). What it holds is what every command reads and compiles.
  it('holds neither grpc-js, protobufjs nor the intake stack, and still talks to the controller', async () => {
    const main = join(DIST, 'controller/cli/cordonctl.cjs');
    const r = await run(process.execPath, [main, '--help']);
    expect(r.stdout).toMatch(/^usage: cordonctl/);
    const bundle = readFileSync(main, 'utf8');
    const heavy = /\/\/ node_modules\/(@grpc\/[\w-]+|protobufjs|iconv-lite|linkify-it|convict|mailparser|fast-xml-parser|fflate)\//g;
    expect([...new Set([...bundle.matchAll(heavy)].map((m) => m[1]))]).toEqual([]);
    // The same reading finds what it does hold, so the empty list above means something.
    expect(bundle).toMatch(/\/\/ proto\/gen\/cordon\/v1\/desk\.ts\n/);
    expect(bundle).toMatch(/\/\/ node_modules\/@bufbuild\/protobuf\//);
    // The intake stack stays out: `ingest` loads tsc's module beside the bundle.
    expect(bundle).toMatch(/import\("\.\/ingestCommand\.js"\)/);
    const listed = await run(process.execPath, [main, '--controller', `127.0.0.1:${controller.server.port}`, '--server-name', 'localhost', '--pki', pki.dir, '--operator', 'vic', 'health']);
    expect(listed.stdout).toBe('SERVING\n');
  });
});
