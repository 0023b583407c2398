/**
 * What Cordon's components ask of a logger: pino's calling shape, narrowed to
 * the calls they make, so a component takes either pino (the controller, the
 * CLIs) or the agent's `LineLogger` without knowing which.
 */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

export interface Log {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  /** A logger whose every line carries `bindings` too (`{ component }`). */
  child(bindings: Record<string, unknown>): Log;
}

/** The levels a config may name, most severe first (pino's names). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
