import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { CordonError, ERROR_KINDS, type ErrorKind } from './CordonError.js';

const KIND_TO_CODE: Record<ErrorKind, status> = {
  invalid: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  conflict: status.FAILED_PRECONDITION,
  unauthenticated: status.UNAUTHENTICATED,
  permission: status.PERMISSION_DENIED,
  refused: status.FAILED_PRECONDITION,
  transient: status.UNAVAILABLE,
  unsupported: status.UNIMPLEMENTED,
  internal: status.INTERNAL,
};

/** Trailer that carries the exact kind, since gRPC codes are coarser. */
const KIND_KEY = 'cordon-error-kind';
const FIELD_KEY = 'cordon-error-field';

/**
 * The one place where an error becomes a gRPC status. A CordonError keeps its
 * message (it was written for the caller); anything else becomes UNKNOWN with
 * a generic message, and the caller of this function logs the real error.
 */
export function toGrpcStatus(err: unknown): Partial<StatusObject> & { code: status; details: string } {
  const metadata = new Metadata();
  if (err instanceof CordonError) {
    metadata.set(KIND_KEY, err.kind);
    if (err.field) metadata.set(FIELD_KEY, err.field);
    return { code: KIND_TO_CODE[err.kind], details: err.message, metadata };
  }
  return { code: status.UNKNOWN, details: 'internal error (logged by the server)', metadata };
}

const CODE_TO_KIND: Partial<Record<status, ErrorKind>> = {
  [status.INVALID_ARGUMENT]: 'invalid',
  [status.OUT_OF_RANGE]: 'invalid',
  [status.NOT_FOUND]: 'not_found',
  [status.ALREADY_EXISTS]: 'conflict',
  [status.FAILED_PRECONDITION]: 'conflict',
  [status.ABORTED]: 'conflict',
  [status.UNAUTHENTICATED]: 'unauthenticated',
  [status.PERMISSION_DENIED]: 'permission',
  [status.UNAVAILABLE]: 'transient',
  [status.DEADLINE_EXCEEDED]: 'transient',
  [status.RESOURCE_EXHAUSTED]: 'transient',
  [status.CANCELLED]: 'transient',
  [status.UNIMPLEMENTED]: 'unsupported',
};

/** The client-side inverse of toGrpcStatus. */
export function fromGrpcError(err: unknown): CordonError {
  if (err instanceof CordonError) return err;
  const se = err as Partial<ServiceError>;
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
