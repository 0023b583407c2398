import { join } from 'node:path';
import type { Server } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { packageRoot } from '../proto/runtime/version.js';

/** Where the .proto files live, in the checkout and in an installed package alike. */
export function protoDir(): string {
  return join(packageRoot(), 'proto');
}

/** Loads Cordon's .proto files with proto-loader (independently of the generated code). */
export function loadCordonProtos() {
  return loadSync(['cordon/v1/agent.proto', 'cordon/v1/desk.proto'], {
    includeDirs: [protoDir()],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
}

/**
 * gRPC server reflection (v1 and v1alpha), so grpcurl and other generic
 * clients can list and call the controller's services from the .proto files
 * the package ships. Served behind the same mutual TLS as everything else;
 * the controller adds it through `guardedServices` (proto/runtime/rpcServer),
 * so a call also needs a Cordon identity whose certificate is not revoked.
 */
export function addReflection(server: Pick<Server, 'addService'>): void {
  new ReflectionService(loadCordonProtos()).addToServer(server);
}
