import { pino, type Logger } from 'pino';
import { prettyDestination } from './prettyLog.js';

export type { Logger };

export { LOG_LEVELS } from './Log.js';

/**
 * The process's one root logger, created by main and passed down; components
 * take `log.child({ component })`. JSON lines, for journald and log shippers.
 * `fd` 1 for daemons, 2 for CLIs whose stdout is their output. `pretty`
 * renders lines for a person at a terminal instead (`--log-pretty`).
 */
export function createRootLogger(opts: { name: string; level: string; fd?: 1 | 2; pretty?: boolean }): Logger {
  const fd = opts.fd ?? 1;
  return pino(
    {
      name: opts.name,
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Cordon never logs secrets on purpose; this catches the obvious slips.
      redact: { paths: ['password', '*.password', 'secret', '*.secret'], censor: '[redacted]' },
    },
    opts.pretty ? prettyDestination(fd === 1 ? process.stdout : process.stderr) : pino.destination({ fd, sync: true }),
  );
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
