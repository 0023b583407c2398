import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';

function scrape(port: number): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    })
      .on('error', reject)
      .end();
  });
}

/** The value of one sample in Prometheus text format, e.g. `cordon_incidents{state="received"}`. */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the controller metrics endpoint', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-metrics-'));
    const store = await Store.open(join(work, 'cordon.db'));
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

  it('answers 404 elsewhere', async () => {
    const port = controller.metricsPort!;
    const r = await new Promise<number>((resolve, reject) => request({ host: '127.0.0.1', port, path: '/' }, (res) => resolve(res.statusCode ?? 0)).on('error', reject).end());
    expect(r).toBe(404);
  });
});
