import { credentials, loadPackageDefinition, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type RunningController } from '../../controller/createController.js';
import { StaticInventory } from '../../controller/inventory/Inventory.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { ResultStatus } from '../../proto/gen/cordon/v1/agent.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import type { TlsMaterial } from '../../proto/runtime/tls.js';
import { controllerSettings, host } from '../helpers/controllerHarness.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';
import { connectRawAgent, type RawAgent } from '../helpers/rawAgent.js';
import { waitFor } from '../helpers/waitFor.js';

type Callable = Record<string, (...args: unknown[]) => unknown> & { close(): void };
type Ctor = new (address: string, creds: unknown, options?: Record<string, unknown>) => Callable;

const healthPkg = loadPackageDefinition(
  loadSync('health.proto', { includeDirs: [join(REPO_ROOT, 'node_modules/grpc-health-check/proto/health/v1')], enums: String }),
) as unknown as { grpc: { health: { v1: { Health: Ctor } } } };
const reflectionPkg = loadPackageDefinition(
  loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [join(REPO_ROOT, 'node_modules/@grpc/reflection/build/proto')], keepCase: true, oneofs: true }),
) as unknown as { grpc: { reflection: { v1: { ServerReflection: Ctor } } } };
const channelOptions = { 'grpc.ssl_target_name_override': 'localhost' };
const creds = (tls: TlsMaterial) => credentials.createSsl(tls.ca, tls.key, tls.cert);

function healthCheck(tls: TlsMaterial, port: number): Promise<{ status: string } | ServiceError> {
  const client = new healthPkg.grpc.health.v1.Health(`127.0.0.1:${port}`, creds(tls), channelOptions);
  return new Promise<{ status: string } | ServiceError>((resolve) =>
    client.check!({ service: '' }, { deadline: Date.now() + 5_000 }, (err: ServiceError | null, res: { status: string }) => resolve(err ?? res)),
  ).finally(() => client.close());
}

function listServices(tls: TlsMaterial, port: number): Promise<string[] | ServiceError> {
  const client = new reflectionPkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${port}`, creds(tls), channelOptions);
  return new Promise<string[] | ServiceError>((resolve) => {
    const call = client.ServerReflectionInfo!() as unknown as NodeJS.EventEmitter & { write(m: unknown): void; end(): void };
    call.on('data', (m: { list_services_response?: { service: { name: string }[] } }) => {
      resolve((m.list_services_response?.service ?? []).map((s) => s.name));
      call.end();
    });
    call.on('error', (err: ServiceError) => resolve(err));
    call.write({ list_services: '' });
  }).finally(() => client.close());
}

describe('an agent cannot touch another host through its reports', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-hostile-'));
    const store = await Store.open(join(work, 'cordon.db'));
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.255.0.10' });
    await store.hosts.add({ id: 'web-02', customerId: 'globex', publicPrefixes: ['203.0.113.20/32'], managementAddress: '10.255.0.20' });
    await store.hosts.add({ id: 'web-03', customerId: 'initech', publicPrefixes: ['203.0.113.30/32'], managementAddress: '10.255.0.30' });
    controller = await runController(controllerSettings(pki, store));
  });
  afterAll(async () => {
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("ignores a report's results naming another host's enforcement", async () => {
    const victim = await controller.service.enforceHost('web-02', { kind: 'smtp_block' }, 'seen live', 'olga');
    const before = await controller.store.incidents.get(victim);
    const eventsBefore = (await controller.store.events.list(victim)).length;
    expect(before?.state).toBe('enforcing');
    const [enforcement] = (await controller.store.desired.get('web-02')).enforcements;

    // web-01 holds nothing (generation 0), so a report of generation 0 is "current" for it.
    const agent = await connectRawAgent(pki.agent('web-01'), controller.server.port, 'web-01');
    try {
      await agent.report({
        appliedGeneration: 0n,
        observedDigest: 'forged',
        results: [{ enforcementId: enforcement!.id, kind: 0, status: ResultStatus.RESULT_STATUS_FAILED, error: 'forged by web-01' }],
      });
      await waitFor('the forged report to arrive', () => controller.server.sessions.get('web-01')?.observedDigest === 'forged');
      await controller.reports.idle();
    } finally {
      agent.close();
    }
    const after = await controller.store.incidents.get(victim);
    expect(after).toEqual(before);
    expect((await controller.store.events.list(victim)).length).toBe(eventsBefore);
    expect(controller.reports.ignoredResults).toBe(1);
  });

  it("drops a revoked agent's reports and closes its open stream within seconds", async () => {
    const incident = await controller.service.enforceHost('web-03', { kind: 'smtp_block' }, 'seen live', 'olga');
    const desired = await controller.store.desired.get('web-03');
    const tls = pki.agent('web-03');

    // Revoked between two messages: the report that follows must not count.
    const first = await connectRawAgent(tls, controller.server.port, 'web-03');
    await waitFor('the desired state', () => first.received.some((m) => m.body?.$case === 'desiredState'));
    pki.run('revoke', join(pki.dir, 'agent-web-03.crt'));
    await first.report({
      appliedGeneration: BigInt(desired.generation),
      observedDigest: 'after-revocation',
      results: desired.enforcements.map((e) => ({ enforcementId: e.id, kind: 0, status: ResultStatus.RESULT_STATUS_APPLIED, error: '' })),
    });
    const ended = await first.ended;
    first.close();
    expect(ended).toBeInstanceOf(CordonError);
    expect((ended as CordonError).kind).toBe('permission');
    expect((ended as CordonError).message).toMatch(/is revoked/);
    await controller.reports.idle();
    expect((await controller.store.incidents.get(incident))?.state).toBe('enforcing');
    expect(controller.server.sessions.get('web-03')?.observedDigest).not.toBe('after-revocation');
  });

  it('ends a silent stream of a certificate revoked while it is open', async () => {
    const tls = pki.material('agent-web-01');
    const agent = await connectRawAgent(tls, controller.server.port, 'web-01');
    try {
      const revokedAt = Date.now();
      pki.run('revoke', join(pki.dir, 'agent-web-01.crt'));
      const ended = await Promise.race([agent.ended, new Promise<'still open'>((r) => setTimeout(() => r('still open'), 5_000))]);
      expect(ended).toBeInstanceOf(CordonError);
      expect((ended as CordonError).kind).toBe('permission');
      expect(Date.now() - revokedAt).toBeLessThan(3_000);
      expect(controller.server.sessions.get('web-01')).toMatchObject({ state: 'disconnected', disconnectReason: expect.stringMatching(/is revoked/) });
    } finally {
      agent.close();
    }
  });
});

describe('gRPC health and reflection check the peer certificate', () => {
  let pki: TestPki;
  let controller: RunningController;

  beforeAll(async () => {
    pki = new TestPki();
    controller = await startController({
      listen: '127.0.0.1:0',
      tls: pki.controller(),
      revokedSerialsFile: pki.revokedFile,
      inventory: new StaticInventory([host('web-01', 1)]),
      staleAfterMissedHeartbeats: 3,
      pingIntervalMs: 30_000,
      helloTimeoutMs: 2_000,
      log: silentLogger(),
    });
  });
  afterAll(async () => {
    await controller?.stop(500);
    pki?.cleanup();
  });

  it('serves a valid certificate and refuses it once revoked', async () => {
    const vic = pki.operator('vic', 'viewer');
    expect(await healthCheck(vic, controller.port)).toMatchObject({ status: 'SERVING' });
    expect(await listServices(vic, controller.port)).toEqual(expect.arrayContaining(['cordon.v1.AgentService']));
    // Agents may ask for health too.
    expect(await healthCheck(pki.agent('web-01'), controller.port)).toMatchObject({ status: 'SERVING' });

    pki.run('revoke', join(pki.dir, 'operator-vic.crt'));
    expect(await healthCheck(vic, controller.port)).toMatchObject({ code: grpcStatus.PERMISSION_DENIED, details: expect.stringMatching(/is revoked/) });
    expect(await listServices(vic, controller.port)).toMatchObject({ code: grpcStatus.PERMISSION_DENIED });
  });

  it('cuts a health watch held open by a certificate revoked meanwhile', async () => {
    const wendy = pki.operator('wendy', 'viewer');
    const client = new healthPkg.grpc.health.v1.Health(`127.0.0.1:${controller.port}`, creds(wendy), channelOptions);
    try {
      const call = client.watch!({ service: '' }) as unknown as NodeJS.EventEmitter;
      const statuses: string[] = [];
      const ended = new Promise<ServiceError | 'end'>((resolve) => {
        call.on('data', (m: { status: string }) => statuses.push(m.status));
        call.on('error', (err: ServiceError) => resolve(err));
        call.on('end', () => resolve('end'));
      });
      await waitFor('the first health status', () => statuses.length > 0);
      const revokedAt = Date.now();
      pki.run('revoke', join(pki.dir, 'operator-wendy.crt'));
      const outcome = await Promise.race([ended, new Promise<'still open'>((r) => setTimeout(() => r('still open'), 6_000))]);
      expect(outcome).not.toBe('still open');
      expect(Date.now() - revokedAt).toBeLessThan(4_000);
    } finally {
      client.close();
    }
  });
});

describe('heartbeat interval ceiling', () => {
  /**
   * A controller on a clock the test moves, and a customer with root on
   * web-01 running an agent of their own that asks for one beat a day.
   */
  async function dayBeatAgent(caps: { maxHeartbeatMs: number; maxRestrictedHeartbeatMs?: number }, test: (controller: RunningController, clock: { now: number }, agent: RawAgent) => Promise<void>) {
    const pki = new TestPki();
    const clock = { now: Date.parse('2026-03-01T00:00:00Z') };
    const controller = await startController({
      listen: '127.0.0.1:0',
      tls: pki.controller(),
      revokedSerialsFile: pki.revokedFile,
      inventory: new StaticInventory([host('web-01', 1)]),
      staleAfterMissedHeartbeats: 3,
      ...caps,
      pingIntervalMs: 300_000,
      helloTimeoutMs: 2_000,
      log: silentLogger(),
      clock: () => new Date(clock.now),
    });
    const agent = await connectRawAgent(pki.agent('web-01'), controller.port, 'web-01', 86_400_000);
    try {
      await test(controller, clock, agent);
    } finally {
      agent.close();
      await controller.stop(500);
      pki.cleanup();
    }
  }

  it('holds an agent that asks for one heartbeat a day to the cap, so it goes stale after cap × missed beats', async () => {
    await dayBeatAgent({ maxHeartbeatMs: 30_000 }, async (controller, clock) => {
      expect(controller.sessions.get('web-01')).toMatchObject({ state: 'connected', heartbeatIntervalMs: 30_000 });
      clock.now += 3 * 30_000;
      expect(controller.sessions.get('web-01')!.state).toBe('connected');
      clock.now += 1;
      expect(controller.sessions.get('web-01')!.state).toBe('stale');
    });
  });

  it('holds a restricted host to the restricted cap from the moment the restriction is decided, whatever its agent asked', async () => {
    await dayBeatAgent({ maxHeartbeatMs: 60_000, maxRestrictedHeartbeatMs: 10_000 }, async (controller, clock, agent) => {
      expect(controller.sessions.get('web-01')).toMatchObject({ state: 'connected', heartbeatIntervalMs: 60_000 });
      clock.now += 25_000;
      controller.desired.set('web-01', [{ id: 'e1', incidentId: 'inc-1', reason: 'spam, no answer', action: { $case: 'isolate', value: {} } }]);
      await waitFor('the restriction to reach the session', () => controller.sessions.get('web-01')?.heartbeatIntervalMs === 10_000);
      // Silent since the Hello 25 s ago: three restricted beats (30 s) are missed 5 s after the decision, not 3 minutes after.
      expect(controller.sessions.get('web-01')!.state).toBe('connected');
      clock.now += 5_001;
      expect(controller.sessions.get('web-01')!.state).toBe('stale');
      await agent.send({ body: { $case: 'heartbeat', value: { sentAt: new Date(clock.now), generation: 1n, observedDigest: 'd', pingNonce: 0n } } });
      await waitFor('the heartbeat', () => controller.sessions.get('web-01')?.state === 'connected');
      // Released: the idle interval again.
      controller.desired.set('web-01', []);
      await waitFor('the release to reach the session', () => controller.sessions.get('web-01')?.heartbeatIntervalMs === 60_000);
      clock.now += 3 * 60_000;
      expect(controller.sessions.get('web-01')!.state).toBe('connected');
    });
  });
});
