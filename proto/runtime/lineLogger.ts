import { writeSync } from 'node:fs';
import { CordonError } from './CordonError.js';
import type { Log, LogFn } from './Log.js';
import { formatPrettyLine } from './prettyLog.js';

/** pino's level numbers, so the lines read the same to whatever ships them. */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
export type LineLogLevel = keyof typeof LEVELS;

/** Keys redacted at the top level and one level down, as the controller's pino config does. */
const REDACTED = new Set(['password', 'secret']);
const CENSOR = '[redacted]';
/** How long one line may wait on a full pipe (journald busy) before it is dropped, not the daemon. */
const EAGAIN_TRIES = 10;
const EAGAIN_WAIT_MS = 10;

export interface LineLoggerOptions {
  name: string;
  level: string;
  /** 1 for a daemon, 2 for a one-shot command whose stdout is its output. */
  fd?: 1 | 2;
  /** Lines for a person at a terminal (`--log-pretty`) instead of JSON. */
  pretty?: boolean;
  /** Where the finished lines go; tests capture them here. Default: a synchronous write to `fd`. */
  write?: (line: string) => void;
}

/**
 * The agent's logger: pino's JSON line format as the controller writes it
 * (level number, ISO time, pid, name, bindings, fields, msg; `err` as type, message and stack;
 * passwords and secrets redacted), written synchronously, without pino.
 * The agent runs on every customer server with a 50 MiB budget, and pino
 * cost it 0.9 MiB of RSS (BENCHMARKS.md §4); the controller and the
 * CLIs keep pino. Lines are written whole and in order; a line that cannot be
 * written after a short wait is dropped, never the process.
 */
export function createLineLogger(opts: LineLoggerOptions): Log {
  if (!Object.hasOwn(LEVELS, opts.level)) throw new CordonError('invalid', `log.level ${JSON.stringify(opts.level)} is not one of ${Object.keys(LEVELS).join(', ')}`, { field: 'log.level' });
  const threshold = LEVELS[opts.level as LineLogLevel];
  const fd = opts.fd ?? 1;
  const sink = opts.write ?? ((line: string) => writeLine(fd, line));
  let emit = sink;
  if (opts.pretty) {
    const colour = (fd === 1 ? process.stdout : process.stderr).isTTY === true && !process.env.NO_COLOR;
    emit = (line) => sink(formatPrettyLine(line, colour));
  }
  const head = `"pid":${process.pid},"name":${JSON.stringify(opts.name)}`;
  return makeLog(threshold, head, emit);
}

function makeLog(threshold: number, head: string, emit: (line: string) => void): Log {
  const at = (level: number): LogFn =>
    level < threshold
      ? () => {}
      : (first: object | string, msg?: string) => {
          const fields = typeof first === 'string' ? undefined : first;
          // pino's shape: an Error alone is logged as `err`, its message the line's.
          const text = typeof first === 'string' ? first : (msg ?? (first instanceof Error ? first.message : undefined));
          emit(renderLine(level, head, fields, text));
        };
  return {
    fatal: at(LEVELS.fatal),
    error: at(LEVELS.error),
    warn: at(LEVELS.warn),
    info: at(LEVELS.info),
    debug: at(LEVELS.debug),
    trace: at(LEVELS.trace),
    child(bindings) {
      const extra = fieldsText(bindings);
      return makeLog(threshold, extra ? `${head},${extra}` : head, emit);
    },
  };
}

/** One JSON line; exported for the test that holds it equal to pino's. */
export function renderLine(level: number, head: string, fields: object | undefined, msg: string | undefined): string {
  const parts = [`{"level":${level},"time":"${new Date().toISOString()}",${head}`];
  const body = fields === undefined ? '' : fields instanceof Error ? fieldsText({ err: fields }) : fieldsText(fields);
  if (body) parts.push(body);
  if (msg !== undefined) parts.push(`"msg":${JSON.stringify(msg)}`);
  return `${parts.join(',')}}\n`;
}

/** `"k":v,…` for an object's own fields, or '' for none; never throws. */
function fieldsText(fields: object): string {
  const out: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const shown = REDACTED.has(key) ? CENSOR : key === 'err' && value instanceof Error ? serializeError(value) : redactOneDown(value);
    out.push(`${JSON.stringify(key)}:${safeJson(shown)}`);
  }
  return out.join(',');
}

function redactOneDown(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Error) return value;
  if (!Object.keys(value).some((k) => REDACTED.has(k))) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, REDACTED.has(k) ? CENSOR : v]));
}

/** pino's `stdSerializers.err` shape: type, message, stack, and the error's own fields (a CordonError's kind, field). */
function serializeError(err: Error): Record<string, unknown> {
  const own = Object.fromEntries(Object.entries(err).filter(([k]) => !REDACTED.has(k)));
  return { type: err.constructor?.name ?? 'Error', message: err.message, stack: err.stack, ...own };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
  } catch (e) {
    // A cycle: say so rather than lose the line.
    return JSON.stringify(`[unserializable: ${(e as Error).message}]`);
  }
}

function writeLine(fd: number, line: string): void {
  const bytes = Buffer.from(line);
  let off = 0;
  let waits = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || ++waits > EAGAIN_TRIES) return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, EAGAIN_WAIT_MS);
    }
  }
}
