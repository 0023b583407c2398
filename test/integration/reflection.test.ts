import { credentials, loadPackageDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../../controller/createController.js';
import { loadCordonProtos } from '../../controller/reflection.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { host, startTestController } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';

type Callable = Record<string, (...args: unknown[]) => unknown> & { close(): void };
type Ctor = new (address: string, creds: unknown, options?: Record<string, unknown>) => Callable;

/**
 * A client that knows nothing of the generated code: it loads the .proto
 * files with @grpc/proto-loader, as grpcurl or another language would, and
 * lists the services through gRPC server reflection.
 */
describe('the controller to a client built from the .proto files', () => {
  let pki: TestPki;
  let controller: RunningController;

  beforeAll(async () => {
    pki = new TestPki();
    pki.operator('vic', 'viewer');
    controller = await startTestController(pki, [host('web-01', 1)]);
  });
  afterAll(async () => {
    await controller?.stop(500);
    pki?.cleanup();
  });

  const creds = () => {
    const tls = pki.material('operator-vic');
    return credentials.createSsl(tls.ca, tls.key, tls.cert);
  };
  const options = { 'grpc.ssl_target_name_override': 'localhost' };

  it('calls DeskService.ListHosts through a dynamic client', async () => {
    const pkg = loadPackageDefinition(loadCordonProtos()) as unknown as { cordon: { v1: { DeskService: Ctor } } };
    const desk = new pkg.cordon.v1.DeskService(`127.0.0.1:${controller.port}`, creds(), options);
    try {
      const res = await new Promise<{ hosts: { id: string; agentState: string }[] }>((resolve, reject) =>
        desk.listHosts!({ customerId: '' }, (err: ServiceError | null, r: { hosts: { id: string; agentState: string }[] }) => (err ? reject(err) : resolve(r))),
      );
      expect(res.hosts).toEqual([expect.objectContaining({ id: 'web-01', agentState: 'AGENT_STATE_NEVER_SEEN' })]);
    } finally {
      desk.close();
    }
  });

  it('lists the services through server reflection', async () => {
    const reflectionProto = loadSync('grpc/reflection/v1/reflection.proto', {
      includeDirs: [join(REPO_ROOT, 'node_modules/@grpc/reflection/build/proto')],
      keepCase: true,
      oneofs: true,
    });
    const pkg = loadPackageDefinition(reflectionProto) as unknown as { grpc: { reflection: { v1: { ServerReflection: Ctor } } } };
    const client = new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${controller.port}`, creds(), options);
    try {
      const names = await new Promise<string[]>((resolve, reject) => {
        const call = client.ServerReflectionInfo!() as unknown as NodeJS.EventEmitter & { write(m: unknown): void; end(): void };
        call.on('data', (m: { list_services_response?: { service: { name: string }[] } }) => {
          resolve((m.list_services_response?.service ?? []).map((s) => s.name));
          call.end();
        });
        call.on('error', reject);
        call.write({ list_services: '' });
      });
      expect(names).toEqual(expect.arrayContaining(['cordon.v1.AgentService', 'cordon.v1.DeskService']));
    } finally {
      client.close();
    }
  });
});
