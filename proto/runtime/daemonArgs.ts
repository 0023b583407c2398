import { parseArgs } from 'node:util';
import { CordonError } from './CordonError.js';

export interface DaemonArgs {
  configFile: string | undefined;
  checkConfig: boolean;
  printConfig: boolean;
  help: boolean;
  version: boolean;
  /** `--log-pretty`: human-readable log lines for a terminal. */
  logPretty: boolean;
  /** Words after the options (agent subcommands). */
  positionals: string[];
  /** Options a subcommand defines, as given. */
  extra: Record<string, string | boolean | undefined>;
}

/**
 * The options every Cordon daemon takes. The config file comes from
 * `--config`, else from `envVar` (e.g. CORDON_CONTROLLER_CONFIG), else
 * `defaultFile` when that exists.
 */
export function parseDaemonArgs(
  argv: string[],
  opts: { envVar: string; env: NodeJS.ProcessEnv; extra?: Record<string, { type: 'string' | 'boolean' }> },
): DaemonArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'check-config': { type: 'boolean' },
        'print-config': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        'log-pretty': { type: 'boolean' },
        ...(opts.extra ?? {}),
      },
    });
  } catch (err) {
    throw new CordonError('invalid', (err as Error).message, { field: 'argv' });
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const extra: DaemonArgs['extra'] = {};
  for (const key of Object.keys(opts.extra ?? {})) extra[key] = v[key];
  return {
    configFile: (v.config as string | undefined) ?? (opts.env[opts.envVar] || undefined),
    checkConfig: v['check-config'] === true,
    printConfig: v['print-config'] === true,
    help: v.help === true,
    version: v.version === true,
    logPretty: v['log-pretty'] === true,
    positionals: parsed.positionals,
    extra,
  };
}

/**
 * First SIGTERM or SIGINT runs `stop` (graceful); a second one exits at once.
 */
export function onShutdownSignals(stop: () => Promise<void>, log: { info: (m: string) => void }): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.info(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log.info(`${signal}: shutting down`);
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
