import { CordonError, ERROR_KINDS, type ErrorKind } from './CordonError.js';

// Apart from grpcStatus.ts (and grpc-js) so that cordonctl's light unary
// client can read a status without loading grpc-js.

/** gRPC status codes (grpc/doc/statuscodes.md); grpc-js's `status` enum has the same numbers. */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** Trailer that carries the exact kind, since gRPC codes are coarser. */
export const KIND_KEY = 'cordon-error-kind';
export const FIELD_KEY = 'cordon-error-field';

const CODE_TO_KIND: Partial<Record<number, ErrorKind>> = {
  [GrpcCode.INVALID_ARGUMENT]: 'invalid',
  [GrpcCode.OUT_OF_RANGE]: 'invalid',
  [GrpcCode.NOT_FOUND]: 'not_found',
  [GrpcCode.ALREADY_EXISTS]: 'conflict',
  [GrpcCode.FAILED_PRECONDITION]: 'conflict',
  [GrpcCode.ABORTED]: 'conflict',
  [GrpcCode.UNAUTHENTICATED]: 'unauthenticated',
  [GrpcCode.PERMISSION_DENIED]: 'permission',
  [GrpcCode.UNAVAILABLE]: 'transient',
  [GrpcCode.DEADLINE_EXCEEDED]: 'transient',
  [GrpcCode.RESOURCE_EXHAUSTED]: 'transient',
  [GrpcCode.CANCELLED]: 'transient',
  [GrpcCode.UNIMPLEMENTED]: 'unsupported',
};

/** A failed call's status as either client reports it: grpc-js's ServiceError or the light unary channel's. */
export interface StatusLike {
  code: number;
  details?: string;
  message?: string;
  metadata?: { get(key: string): unknown[] };
}

/** The client-side inverse of toGrpcStatus (grpcStatus.ts). */
export function fromGrpcError(err: unknown): CordonError {
  if (err instanceof CordonError) return err;
  const se = err as Partial<StatusLike>;
  if (typeof se?.code !== 'number') {
    return new CordonError('internal', err instanceof Error ? err.message : String(err), { cause: err });
  }
  const sentKind = se.metadata?.get(KIND_KEY)[0];
  const kind =
    typeof sentKind === 'string' && (ERROR_KINDS as readonly string[]).includes(sentKind)
      ? (sentKind as ErrorKind)
      : (CODE_TO_KIND[se.code] ?? 'internal');
  const field = se.metadata?.get(FIELD_KEY)[0];
  const details = se.details || se.message || `gRPC status ${se.code}`;
  // The server already prefixed the field to the message; do not repeat it.
  const error = new CordonError(kind, details, { cause: err });
  return Object.assign(error, { field: typeof field === 'string' ? field : undefined });
}
