import { constants, type ServerHttp2Stream } from 'node:http2';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { FRAME_HEADER_BYTES, frameMessage } from '../../proto/runtime/grpcHttp2.js';
import { refuseCall, statusTrailers } from './grpcServerStream.js';

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

/** HealthCheckResponse.ServingStatus numbers (grpc/doc/health-checking.md). */
const STATUS_NUMBER = { SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

/** A HealthCheckRequest is a few bytes; anything larger is not one. */
const MAX_REQUEST_BYTES = 1024;

/**
 * Answers grpc.health.v1.Health/Check on an agent's connection (the
 * controller's grpc-js server answers it for everyone else): one request
 * naming a service, one answer with its status.
 */
export function answerHealthCheck(stream: ServerHttp2Stream, statusOf: (service: string) => keyof typeof STATUS_NUMBER): void {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > FRAME_HEADER_BYTES + MAX_REQUEST_BYTES) {
      refuseCall(stream, new CordonError('invalid', `a health check request over ${MAX_REQUEST_BYTES} bytes`, { field: 'service' }));
      stream.close(constants.NGHTTP2_NO_ERROR);
      return;
    }
    chunks.push(chunk);
  });
  stream.on('end', () => {
    if (stream.headersSent) return;
    let service: string;
    try {
      service = readService(Buffer.concat(chunks));
    } catch (err) {
      refuseCall(stream, err);
      return;
    }
    const w = new BinaryWriter();
    w.uint32(8).int32(STATUS_NUMBER[statusOf(service)]);
    stream.respond({ [constants.HTTP2_HEADER_STATUS]: 200, [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers(statusTrailers(undefined)));
    stream.end(frameMessage(w.finish()));
  });
}

function readService(frame: Buffer): string {
  if (frame.length < FRAME_HEADER_BYTES || frame.readUInt8(0) !== 0 || frame.readUInt32BE(1) !== frame.length - FRAME_HEADER_BYTES) {
    throw new CordonError('invalid', 'a health check must carry exactly one uncompressed HealthCheckRequest', { field: 'message' });
  }
  const r = new BinaryReader(frame.subarray(FRAME_HEADER_BYTES));
  let service = '';
  try {
    while (r.pos < r.len) {
      const [field, wireType] = r.tag();
      if (field === 1 && wireType === 2) service = r.string();
      else r.skip(wireType);
    }
  } catch (err) {
    throw new CordonError('invalid', `cannot decode the HealthCheckRequest: ${(err as Error).message}`, { field: 'message' });
  }
  return service;
}
