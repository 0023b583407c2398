import { CordonError } from '../../proto/runtime/CordonError.js';

/**
 * Every bound intake puts on a report, in one place. The controller reads
 * them from its `intake.limits` config section (controller/config.ts holds
 * the same defaults and their docs); a report over one is never parsed past
 * it: it becomes needs_info naming the limit, or, over `maxReportBytes`, is
 * refused. The defaults fit real feeds with room to spare: Shadowserver's
 * largest daily country files are a few MiB zipped and a few hundred
 * thousand rows.
 */
export interface IntakeLimits {
  /** The largest report accepted at all (raw bytes, as submitted); over it the desk refuses it. */
  maxReportBytes: number;
  /** All archive members of one report together, once decompressed. */
  decompressedBytes: number;
  /** Entries in one zip archive (its central directory). */
  zipMembers: number;
  /** One zip member, decompressed: checked against the size the archive declares and against the bytes as they come. */
  zipMemberBytes: number;
  /** CSV records in one file. */
  rows: number;
  /** One line of text (characters; bytes in a part not yet decoded) or one CSV record (characters). */
  lineLength: number;
  /** Nesting of arrays and objects in one JSON document or JSON Lines record (a feed); deeper ones are not read. */
  jsonDepth: number;
  /** Nesting of MIME parts: the message is 1, its parts 2, a message/rfc822 inside one 3, … */
  mimeDepth: number;
  /** MIME parts in one message, the message itself and embedded messages included. */
  mimeParts: number;
  /** Wall-clock time one report may take to parse; the parse worker is then terminated and replaced. */
  parseSeconds: number;
  /** The parse worker's V8 heap (old generation); a report that needs more kills the worker, not the controller. */
  workerHeapMb: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_INTAKE_LIMITS: Readonly<IntakeLimits> = Object.freeze({
  maxReportBytes: 64 * MiB,
  decompressedBytes: 256 * MiB,
  zipMembers: 64,
  zipMemberBytes: 64 * MiB,
  rows: 1_000_000,
  lineLength: 64 * 1024,
  jsonDepth: 32,
  mimeDepth: 8,
  mimeParts: 500,
  parseSeconds: 30,
  workerHeapMb: 1024,
});

/**
 * Room a SubmitComplaint request needs besides the report bytes (filename,
 * the legacy single-complaint fields, protobuf framing). Generous: the
 * exact refusal is made on the report's own size, by parseReport.
 */
export const REQUEST_OVERHEAD_BYTES = 1 * MiB;

/** The gRPC receive limit (server and cordonctl) that lets a report of `maxReportBytes` through. */
export function grpcMessageLimit(maxReportBytes: number): number {
  return maxReportBytes + REQUEST_OVERHEAD_BYTES;
}

/**
 * A report over one of the intake limits. `actual` is what was counted when
 * reading stopped: for sizes counted as bytes arrive that is "at least".
 * Thrown from deep inside a parser, it goes straight through the parsers'
 * own catch-alls (they rethrow it) to parseReport, which makes it the
 * needs_info reason.
 */
export class IntakeLimitError extends CordonError {
  constructor(
    readonly limit: keyof IntakeLimits,
    readonly actual: number,
    readonly max: number,
    readonly where?: string,
    readonly atLeast = false,
  ) {
    super('invalid', `over intake.limits.${limit} (${atLeast ? 'at least ' : ''}${actual} > ${max})${where ? ` in ${where}` : ''}`);
    this.name = 'IntakeLimitError';
  }
}

export function isIntakeLimitError(err: unknown): err is IntakeLimitError {
  return err instanceof IntakeLimitError;
}

/** Throws IntakeLimitError when `actual` is over `limits[limit]`. */
export function checkLimit(limits: IntakeLimits, limit: keyof IntakeLimits, actual: number, where?: string, atLeast = false): void {
  if (actual > limits[limit]) throw new IntakeLimitError(limit, actual, limits[limit], where, atLeast);
}

/** Throws IntakeLimitError when a line of `text` (ended by LF, CR or CRLF) is longer than intake.limits.lineLength. */
export function checkLineLengths(text: string | Buffer, limits: IntakeLimits, where: string): void {
  if (text.length <= limits.lineLength) return;
  let start = 0;
  let lf = text.indexOf('\n');
  let cr = text.indexOf('\r');
  for (;;) {
    if (lf >= 0 && lf < start) lf = text.indexOf('\n', start);
    if (cr >= 0 && cr < start) cr = text.indexOf('\r', start);
    const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
    const stop = end < 0 ? text.length : end;
    if (stop - start > limits.lineLength) throw new IntakeLimitError('lineLength', stop - start, limits.lineLength, `${where}, line at offset ${start}`);
    if (end < 0) return;
    start = end + 1;
  }
}
