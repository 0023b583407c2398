import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runController, type Controller } from '../../controller/runController.js';
import { openTestStore } from '../helpers/testStore.js';
import { controllerSettings, testLink } from '../helpers/controllerHarness.js';
import { waitFor } from '../helpers/waitFor.js';
import { ResultStatus } from '../../proto/gen/cordon/v1/agent.js';
import { TestPki } from '../helpers/pki.js';
import { metricSample, scrapeMetrics } from '../helpers/metricsScrape.js';

const scrape = scrapeMetrics;
const sample = metricSample;

describe('the controller metrics endpoint', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;

  beforeAll(async () => {
    pki = new TestPki();
    pki.agent('web-01');
    work = mkdtempSync(join(tmpdir(), 'cordon-metrics-'));
    const store = await openTestStore(join(work, 'cordon.db'));
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.255.0.10' });
    controller = await runController(controllerSettings(pki, store, { metricsListen: '127.0.0.1:0' }));
  });
  afterAll(async () => {
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('serves Prometheus text with incidents, deadlines, enforcements, outbox and dispatch', async () => {
    await controller.service.submitComplaint({ ip: '203.0.113.10', category: 'spam', reporter: 'x', reporterKind: 'upstream', eventTime: undefined, evidence: '', raw: 'r' }, 'test');
    await controller.service.enforceHost('web-01', { kind: 'smtp_block' }, 'seen live', 'olga');
    const r = await scrape(controller.metricsPort!);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain/);
    expect(sample(r.body, 'cordon_incidents{state="received"}')).toBe(1);
    expect(sample(r.body, 'cordon_incidents{state="enforcing"}')).toBe(1);
    expect(sample(r.body, 'cordon_enforcements{kind="smtp_block",path="agent"}')).toBe(1);
    expect(sample(r.body, 'cordon_enforcements{kind="switch_port_down",path="switch"}')).toBe(0);
    expect(sample(r.body, 'cordon_outbox_backlog{kind="mail",status="pending"}')).toBeGreaterThanOrEqual(2);
    expect(sample(r.body, 'cordon_agents{state="connected"}')).toBe(0);
    expect(sample(r.body, 'cordon_deadlines_due_next_hour')).toBe(0);
    expect(sample(r.body, 'cordon_dispatch_seconds_count')).toBe(0);
    expect(r.body).toContain('cordon_controller_process_resident_memory_bytes');
  });

  it("takes the agents' apply latency and drift repairs from their reports", async () => {
    const received: bigint[] = [];
    const { link } = testLink(pki.material('agent-web-01'), controller.server.port, 'web-01', {
      onDesiredState: async (state) => (received.push(state.generation), {
        appliedGeneration: state.generation,
        observedDigest: 'd',
        observedAt: new Date(),
        error: '',
        results: state.enforcements.map((e) => ({ enforcementId: e.id, kind: 0, status: ResultStatus.RESULT_STATUS_APPLIED, error: '' })),
        applyMs: 42,
        driftRepairs: 2n,
      }),
    });
    link.start();
    try {
      await waitFor('the desired state to reach the agent', () => received.length >= 1);
      // Two more repairs since the first report, then an agent restart (its count starts again at 1).
      const base = { appliedGeneration: received[0]!, observedDigest: 'd', observedAt: new Date(), error: '', results: [] };
      await link.sendReport({ ...base, applyMs: 0, driftRepairs: 4n });
      await link.sendReport({ ...base, applyMs: 0, driftRepairs: 1n });
      await waitFor('the reports to be counted', async () => sample((await scrape(controller.metricsPort!)).body, 'cordon_agent_drift_repairs_total') === 3);
      const body = (await scrape(controller.metricsPort!)).body;
      expect(sample(body, 'cordon_agent_apply_seconds_count')).toBe(1);
      expect(sample(body, 'cordon_agent_apply_seconds_sum')).toBeCloseTo(0.042);
      expect(sample(body, 'cordon_agent_apply_seconds_bucket{le="0.05"}')).toBe(1);
      expect(sample(body, 'cordon_agent_apply_seconds_bucket{le="0.025"}')).toBe(0);
    } finally {
      await link.stop();
    }
  });

  it('answers 404 elsewhere', async () => {
    const port = controller.metricsPort!;
    const r = await new Promise<number>((resolve, reject) => request({ host: '127.0.0.1', port, path: '/' }, (res) => resolve(res.statusCode ?? 0)).on('error', reject).end());
    expect(r).toBe(404);
  });
});
