import type { ErrorKind } from '../../../proto/runtime/CordonError.js';

/** The HTTP status of a refusal, by the error's kind (never its text); the one mapping for the desk's pages. */
export function httpStatusOf(kind: ErrorKind): number {
  switch (kind) {
    case 'invalid':
      return 400;
    case 'unauthenticated':
      return 401;
    case 'permission':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
    case 'refused':
      return 409;
    case 'unsupported':
      return 501;
    case 'transient':
      return 503;
    default:
      return 500;
  }
}
