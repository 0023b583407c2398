/**
 * What went wrong, in terms a caller can act on. Control flow branches on
 * `kind`, never on message text.
 *
 * - `invalid`: the input is wrong; retrying the same input fails again.
 * - `not_found`: the named thing does not exist.
 * - `conflict`: the input is valid but contradicts current state (an older
 *   generation, an existing id).
 * - `unauthenticated`: no usable identity was presented.
 * - `permission`: the identity is known but may not do this.
 * - `refused`: Cordon will not do this by policy (e.g. cutting the
 *   management path); retrying does not help until the request changes.
 * - `transient`: a dependency failed in a way that may heal; retry with backoff.
 * - `unsupported`: this platform or build cannot do it.
 * - `internal`: a bug or an unexpected failure.
 */
export type ErrorKind =
  | 'invalid'
  | 'not_found'
  | 'conflict'
  | 'unauthenticated'
  | 'permission'
  | 'refused'
  | 'transient'
  | 'unsupported'
  | 'internal';

export const ERROR_KINDS: readonly ErrorKind[] = [
  'invalid',
  'not_found',
  'conflict',
  'unauthenticated',
  'permission',
  'refused',
  'transient',
  'unsupported',
  'internal',
];

export interface CordonErrorOptions {
  /** The input field the error is about, as a dotted path (`tls.ca`). */
  field?: string;
  cause?: unknown;
}

/** Marks a CordonError made by any copy of this module (see hasInstance). */
const BRAND = Symbol.for('cordon.CordonError');

export class CordonError extends Error {
  readonly kind: ErrorKind;
  readonly field: string | undefined;

  /**
   * cordonctl is a bundle that also loads a module as tsc wrote it (ingest,
   * deploy/build/bundleCordonctl.mjs), so two copies of this class can meet:
   * an error from either is a CordonError to both. Subclasses keep the
   * ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== CordonError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  constructor(kind: ErrorKind, message: string, options: CordonErrorOptions = {}) {
    super(options.field ? `${options.field}: ${message}` : message, { cause: options.cause });
    this.name = 'CordonError';
    this.kind = kind;
    this.field = options.field;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** Worth retrying the same request later. */
  get retryable(): boolean {
    return this.kind === 'transient';
  }
}

export function isCordonError(err: unknown, kind?: ErrorKind): err is CordonError {
  return err instanceof CordonError && (kind === undefined || err.kind === kind);
}

/** Wraps anything thrown into a CordonError, keeping the original as cause. */
export function asCordonError(err: unknown): CordonError {
  if (err instanceof CordonError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CordonError('internal', message, { cause: err });
}
