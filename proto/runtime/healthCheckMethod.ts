import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import type { UnaryMethod } from './UnaryChannel.js';

// grpc.health.v1 (grpc/doc/health-checking.md), encoded by hand: two
// one-field messages. grpc-health-check, the package the controller serves
// it with, reads its .proto with protobufjs at import (about 35 ms), which a
// command line should not pay for.

/** HealthCheckResponse.ServingStatus, by number. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

/** Health/Check: the request names a service ('' for the whole server); the answer is its status's name. */
export const healthCheckMethod: UnaryMethod<{ service: string }, { status: string }> = {
  path: '/grpc.health.v1.Health/Check',
  requestSerialize: ({ service }) => {
    const w = new BinaryWriter();
    if (service !== '') w.uint32(10).string(service);
    return Buffer.from(w.finish());
  },
  responseDeserialize: (bytes) => {
    const r = new BinaryReader(bytes);
    let status = 0;
    while (r.pos < r.len) {
      const [field, wireType] = r.tag();
      if (field === 1 && wireType === 0) status = r.int32();
      else r.skip(wireType);
    }
    return { status: SERVING_STATUS[status] ?? String(status) };
  },
};
