import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrillClock, drillOffsetFromAudit } from '../../controller/clock.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';

const run = promisify(execFile);

/**
 * Drill mode: `cordonctl clock advance` moves a drill controller's incident
 * clock, the deadlines it passes fire, and the move is audited; a controller
 * not in drill mode, or an operator below admin, is refused with the reason.
 */
describe('cordonctl clock advance', () => {
  let pki: TestPki;
  let work: string;
  const controllers: Controller[] = [];

  const ctl = async (port: number, operator: string, ...args: string[]) => {
    try {
      const r = await run(process.execPath, [join(DIST, 'controller/cli/cordonctl.cjs'), '--controller', `127.0.0.1:${port}`, '--server-name', 'localhost', '--pki', pki.dir, '--operator', operator, ...args]);
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout, err: e.stderr };
    }
  };
  const start = async (name: string, drill: boolean) => {
    const store = await Store.open(join(work, `${name}.db`));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.255.0.10' });
    const c = await runController(controllerSettings(pki, store, drill ? { clock: new DrillClock() } : {}));
    controllers.push(c);
    return c;
  };

  beforeAll(() => {
    pki = new TestPki();
    pki.operator('ada', 'admin');
    pki.operator('olga', 'abuse_operator');
    work = mkdtempSync(join(tmpdir(), 'cordon-drill-'));
  });
  afterAll(async () => {
    for (const c of controllers) {
      await c.stop(200);
      await c.store.close();
    }
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('is refused on a controller not in drill mode, and the clock stays put', async () => {
    const c = await start('prod', false);
    const r = await ctl(c.server.port, 'ada', 'clock', 'advance', '25h');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/only be moved on a controller in drill mode \(clock\.drill = true\)/);
    expect((await c.store.audit.verify()).rows).toBe(0);
  });

  it('lets an admin move a drill controller forward: the acknowledge deadline passes and the move is audited', async () => {
    const c = await start('drill', true);
    const opened = await c.service.submitComplaint(
      { ip: '203.0.113.10', category: 'spam', reporter: 'fbl@mailbox.example', reporterKind: 'upstream', eventTime: undefined, evidence: '', raw: 'spam report' },
      'olga',
    );
    // No mail transport: mark the notice sent so the acknowledge deadline runs.
    await c.service.apply(opened.incidentId!, { type: 'notice_sent' }, 'mail');
    expect((await ctl(c.server.port, 'olga', 'clock', 'advance', '25h')).err).toMatch(/AdvanceClock needs role admin/);
    expect((await ctl(c.server.port, 'ada', 'clock', 'advance', '25 hours')).err).toMatch(/not a duration/);
    const before = Date.now();
    const r = await ctl(c.server.port, 'ada', 'clock', 'advance', '25h', '--reason', 'drill', '--json');
    expect(r.code).toBe(0);
    const moved = JSON.parse(r.out) as { now: string; offsetSeconds: string };
    expect(moved.offsetSeconds).toBe('90000');
    expect(new Date(moved.now).getTime()).toBeGreaterThanOrEqual(before + 90_000_000);
    await waitFor('the incident to escalate', async () => (await c.store.incidents.get(opened.incidentId!))!.escalatedAt !== undefined);
    const moves = (await c.store.audit.list({ subject: 'controller', limit: 100 })).filter((a) => a.action === 'clock.advance');
    expect(moves).toMatchObject([{ actor: 'ada', detail: { seconds: 90_000, reason: 'drill' } }]);
    expect((await c.store.audit.verify()).ok).toBe(true);
    // A restarted drill controller picks up where the drill left its clock (cordon-controller's main does this).
    await ctl(c.server.port, 'ada', 'clock', 'advance', '1h');
    expect(await drillOffsetFromAudit(c.store.audit)).toBe((90_000 + 3_600) * 1000);
  });
});
