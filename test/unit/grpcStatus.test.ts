import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { CordonError, ERROR_KINDS } from '../../proto/runtime/CordonError.js';
import { fromGrpcError, toGrpcStatus } from '../../proto/runtime/grpcStatus.js';

function asServiceError(s: ReturnType<typeof toGrpcStatus>) {
  return Object.assign(new Error(s.details), { code: s.code, details: s.details, metadata: s.metadata ?? new Metadata() });
}

describe('error mapping', () => {
  it.each([
    ['invalid', status.INVALID_ARGUMENT],
    ['not_found', status.NOT_FOUND],
    ['conflict', status.FAILED_PRECONDITION],
    ['unauthenticated', status.UNAUTHENTICATED],
    ['permission', status.PERMISSION_DENIED],
    ['refused', status.FAILED_PRECONDITION],
    ['transient', status.UNAVAILABLE],
    ['unsupported', status.UNIMPLEMENTED],
    ['internal', status.INTERNAL],
  ] as const)('maps %s to gRPC code %i and back', (kind, code) => {
    const s = toGrpcStatus(new CordonError(kind, 'why', { field: 'a.b' }));
    expect(s.code).toBe(code);
    expect(s.details).toBe('a.b: why');
    const back = fromGrpcError(asServiceError(s));
    expect(back.kind).toBe(kind);
    expect(back.field).toBe('a.b');
    expect(back.message).toBe('a.b: why');
  });

  it('covers every kind', () => {
    for (const kind of ERROR_KINDS) expect(toGrpcStatus(new CordonError(kind, 'x')).code).not.toBe(status.UNKNOWN);
  });

  it('hides unexpected errors behind UNKNOWN', () => {
    const s = toGrpcStatus(new TypeError('secret internals'));
    expect(s.code).toBe(status.UNKNOWN);
    expect(s.details).not.toContain('secret');
  });

  it('maps plain gRPC errors from other servers by code', () => {
    const err = Object.assign(new Error('x'), { code: status.DEADLINE_EXCEEDED, details: 'deadline', metadata: new Metadata() });
    expect(fromGrpcError(err)).toMatchObject({ kind: 'transient', retryable: true });
  });
});
