import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DeskClient } from '../../controller/cli/deskClient.js';
import { DrillClock } from '../../controller/clock.js';
import { readHostDetails } from '../../controller/desk/hostDesk.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { HostDetail } from '../../proto/gen/cordon/v1/desk.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { DeskWebLab, T0 } from '../helpers/deskWebLab.js';
import { TestPki } from '../helpers/pki.js';
import { connectRawAgent, type RawAgent } from '../helpers/rawAgent.js';

const HOUR = 3_600_000;
const rowOf = (body: string, host: string) => body.match(new RegExp(`<tr data-host="${host}">([\\s\\S]*?)</tr>`))?.[1] ?? '';
const cell = (row: string, cls: string) => row.match(new RegExp(`<td class="${cls}">([\\s\\S]*?)</td>`))?.[1] ?? '';

/**
 * The fleet page over HTTPS with client certificates: 200 hosts read in a
 * handful of queries, the generation the agent holds against the one
 * desired, drift repairs as the agent reports them, heartbeat ages on the
 * wall clock and BMC checks on the incident clock.
 */
describe('the fleet page', () => {
  let lab: DeskWebLab;
  let agent: RawAgent;
  let grpc: DeskClient;

  beforeAll(async () => {
    lab = await DeskWebLab.start();
    grpc = new DeskClient({ address: `127.0.0.1:${lab.controller.server.port}`, serverName: 'localhost', tls: lab.pki.material('operator-tess') }, { timeoutMs: 5_000 });
    // 195 more hosts in the store; one AddHost over gRPC makes the controller's inventory read them all.
    await lab.controller.store.hosts.upsertMany(
      Array.from({ length: 194 }, (_, i) => ({ id: `bulk-${String(i).padStart(3, '0')}`, customerId: 'acme', publicPrefixes: [`198.18.${i >> 8}.${i & 255}/32`], managementAddress: `10.254.0.${i}` })),
    );
    await grpc.call('addHost', { host: { id: 'zz-last', customerId: 'acme', publicPrefixes: ['198.18.9.9/32'], managementAddress: '10.254.9.9', agentState: 0, customerName: '', customerEmail: '' } });
    agent = await connectRawAgent(lab.pki.material('agent-web-01'), lab.controller.server.port, 'web-01');
  });
  afterAll(async () => {
    agent?.close();
    grpc?.close();
    await lab?.stop();
  });

  it('reads a page of 200 hosts in a handful of queries, each host exactly as GetHost answers', async () => {
    const db = lab.controller.store.db;
    const spies = [vi.spyOn(db, 'get'), vi.spyOn(db, 'all'), vi.spyOn(db, 'run')];
    const page = await lab.request('operator-vic', '/hosts');
    const queries = spies.reduce((n, s) => n + s.mock.calls.length, 0);
    for (const s of spies) s.mockRestore();
    expect(page.status).toBe(200);
    expect([...page.body.matchAll(/<tr data-host=/g)]).toHaveLength(200);
    // Before, each row cost a GetHost: seven queries a host, 1,400 for the page.
    expect(queries).toBeLessThanOrEqual(12);

    const ids = ['web-01', 'web-02', 'bulk-007', 'zz-last'];
    const batch = await readHostDetails({ store: lab.controller.store, agentConnected: (h) => h === 'web-01' }, [...ids, 'no-such-host', 'web-01']);
    expect(batch.map((d) => d.host?.id)).toEqual(ids);
    // GetHost also says what was observed of the host's enforcement (the controller's observer, not given here).
    const { observed: _observed, ...asGetHost } = HostDetail.toJSON(await grpc.call<unknown, HostDetail>('getHost', { id: 'web-01' })) as Record<string, unknown>;
    expect(_observed).toMatchObject({ observed: 'none' });
    expect(HostDetail.toJSON(batch[0]!)).toEqual(asGetHost);
    for (const d of batch) {
      const { observed: _o, ...rest } = HostDetail.toJSON(await grpc.call<unknown, HostDetail>('getHost', { id: d.host!.id })) as Record<string, unknown>;
      expect(HostDetail.toJSON(d)).toEqual(rest);
    }
    await expect(readHostDetails({ store: lab.controller.store, agentConnected: () => false }, Array<string>(1001).fill('web-01'))).rejects.toMatchObject({ kind: 'invalid', field: 'ids' });
  });

  it('shows the generation the agent holds against the one desired, and its drift repairs', async () => {
    const incident = await lab.open('203.0.113.1');
    await lab.controller.service.apply(incident, { type: 'operator_enforce', operator: 'olga', action: { kind: 'smtp_block' }, reason: 'spam run' }, 'olga');
    const before = rowOf((await lab.request('operator-vic', '/hosts?q=web-01')).body, 'web-01');
    expect(cell(before, 'generation')).toMatch(/^0 of 1 <span class="dispatch">\(pending\)<\/span>$/);
    expect(cell(before, 'drift')).toBe('—');
    expect(cell(before, 'heartbeat')).toMatch(/^\d+ s ago$/);

    await agent.report({ appliedGeneration: 1n, driftRepairs: 3n, results: [] });
    await lab.controller.reports.idle();
    const after = rowOf((await lab.request('operator-vic', '/hosts?q=web-01')).body, 'web-01');
    expect(cell(after, 'generation')).toMatch(/^1 of 1 /);
    expect(cell(after, 'drift')).toBe('3');
    const host = await lab.request('operator-vic', '/hosts/web-01');
    expect(host.body).toContain('<dd class="drift">3 since the agent started</dd>');
  });

  it('measures a BMC check on the incident clock and says so when that clock runs apart', async () => {
    await lab.controller.store.bmcs.recordCheck('web-02', { checkedAt: new Date(T0.getTime() - 2 * HOUR), reachable: true, sol: 'ok', error: undefined, durationMs: 40 });
    const page = await lab.request('operator-vic', '/hosts?q=web-02');
    // The lab's incident clock stands at T0, far from the wall clock: the age is the incident clock's (2 h), not the wall's.
    expect(cell(rowOf(page.body, 'web-02'), 'bmc')).toBe('reachable, 2 h ago, incident clock');
    expect(page.body).toMatch(/<p class="clock" id="clock">The incident clock reads <time datetime="2026-11-02T09:00:00.000Z">2026-11-02 09:00:00 UTC<\/time>, \d+ (d|h|min|s) (ahead of|behind) the wall clock\. Deadlines, enforcements and BMC checks are on the incident clock; heartbeats, round trips and connections are wall-clock\.<\/p>/);
  });
});

describe('the fleet page in drill mode', () => {
  it('says drill mode is on and which times are on the incident clock', async () => {
    const pki = new TestPki();
    pki.operator('vic', 'viewer');
    const work = mkdtempSync(join(tmpdir(), 'cordon-fleet-drill-'));
    const store = await Store.open(join(work, 'cordon.db'));
    let controller: Controller | undefined;
    try {
      await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.1/32'], managementAddress: '10.255.0.1' });
      const clock = new DrillClock();
      clock.advance(3 * 24 * HOUR);
      controller = await runController(controllerSettings(pki, store, { clock, deskWeb: { listen: '127.0.0.1:0', tls: pki.controller(), maxEventClients: 2 } }));
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: controller!.deskWebPort, path: '/hosts', ca: pki.controller().ca, cert: readFileSync(join(pki.dir, 'operator-vic.crt')), key: readFileSync(join(pki.dir, 'operator-vic.key')), agent: false },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString('utf8')));
            res.on('end', () => resolve(text));
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(body).toMatch(/<p class="clock" id="clock">Drill mode is on: the incident clock reads <time datetime="[^"]+">[^<]+<\/time>, 3 d ahead of the wall clock\. Deadlines, enforcements and BMC checks are on the incident clock/);
    } finally {
      await controller?.stop(200);
      await store.close();
      pki.cleanup();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
