import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
import { CordonError, type ErrorKind } from './CordonError.js';
import { FIELD_KEY, KIND_KEY } from './grpcCodes.js';

export { fromGrpcError } from './grpcCodes.js';

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
