#!/usr/bin/env -S node --lite-mode --no-expose-wasm --use-openssl-ca
// cordon-agent: converges this dedicated server to the enforcement the controller decides.
// --lite-mode (V8 without its optimising compiler): the agent's JavaScript is small and rarely hot;
// its idle private memory drops from about 25 to 16 MiB, apply latency unchanged (BENCHMARKS.md §4).
// --no-expose-wasm: lite mode turns WebAssembly off anyway, and says so on stderr unless asked to.
// --use-openssl-ca: with trustCordonCaOnly, no store of public root certificates (the agent trusts the Cordon CA alone).
import { existsSync } from 'node:fs';
import { CordonError, asCordonError } from '../proto/runtime/CordonError.js';
import { describeSchema, printableConfig } from '../proto/runtime/config.js';
import { onShutdownSignals, parseDaemonArgs } from '../proto/runtime/daemonArgs.js';
import { createLineLogger } from '../proto/runtime/lineLogger.js';
import { checkKeyPair } from '../proto/runtime/checkKeyPair.js';
import { loadTlsMaterial } from '../proto/runtime/tls.js';
import { trustCordonCaOnly } from '../proto/runtime/trustCordonCaOnly.js';
import { cordonVersion } from '../proto/runtime/version.js';
import { checkCertificateHostId } from './certificateHostId.js';
import { applyCommand, applySavedCommand, releaseAllCommand, statusCommand } from './commands/oneShot.js';
import { agentSchema, loadAgentConfig } from './config.js';
import { createEngine, createGuard, createListenerWatcher, createWatcher } from './createEngine.js';
import { runDaemon } from './runDaemon.js';

const USAGE = `usage: cordon-agent [--config FILE] [COMMAND]

  (no command)          run the daemon: re-apply the saved state, connect to the controller
  apply --state FILE    converge to a desired state (proto3 JSON of cordon.v1.DesiredState) and exit
  apply-saved           re-apply the saved state and exit (boot, before the network is up)
  status [--json]       what this host holds and what is really in place
  release-all           remove every restriction Cordon enforces (emergency); held until a newer generation

  --config FILE    JSON config (default: $CORDON_AGENT_CONFIG, else /etc/cordon/agent.json if present)
  --check-config   validate the config and the files it names, exit 0 if usable, 1 if not
  --print-config   print the effective config (secrets redacted) and exit
  --print-config-schema   print every key with its doc, default, format and environment variable
  --log-pretty     human-readable log lines for a terminal (default: JSON lines, for journald)

Exit status: 0 when every enforcement is in place (apply, apply-saved), 1 otherwise or on error.
`;

const out = (line: string) => process.stdout.write(line + '\n');

async function main(argv: string[]): Promise<number> {
  const args = parseDaemonArgs(argv, {
    envVar: 'CORDON_AGENT_CONFIG',
    env: process.env,
    extra: { state: { type: 'string' }, json: { type: 'boolean' }, 'print-config-schema': { type: 'boolean' } },
  });
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.extra['print-config-schema']) {
    process.stdout.write(JSON.stringify(describeSchema(agentSchema), null, 2) + '\n');
    return 0;
  }
  if (args.version) {
    process.stdout.write(`cordon-agent ${cordonVersion()}\n`);
    return 0;
  }
  const [command, ...rest] = args.positionals;
  if (rest.length > 0 || (command && !['apply', 'apply-saved', 'status', 'release-all'].includes(command))) {
    throw new CordonError('invalid', `unknown command ${JSON.stringify(args.positionals.join(' '))}; see cordon-agent --help`, { field: 'command' });
  }
  const defaultFile = '/etc/cordon/agent.json';
  const file = args.configFile ?? (existsSync(defaultFile) ? defaultFile : undefined);
  const config = loadAgentConfig({ file, env: process.env });
  if (args.printConfig) {
    process.stdout.write(printableConfig(config) + '\n');
    return 0;
  }
  const settings = config.getProperties();
  // One-shot commands act on this host only: they need no certificate.
  const log = createLineLogger({ name: 'cordon-agent', level: command ? 'warn' : settings.log.level, fd: command ? 2 : 1, pretty: args.logPretty || settings.log.pretty });
  const engine = createEngine(settings, log);
  switch (command) {
    case 'apply':
      return applyCommand(engine, args.extra.state as string | undefined, out);
    case 'apply-saved':
      return applySavedCommand(engine, out);
    case 'status':
      return statusCommand(engine, args.extra.json === true, out);
    case 'release-all':
      return releaseAllCommand(engine, out);
  }

  const tls = loadTlsMaterial(settings.tls);
  checkKeyPair(tls, settings.tls);
  checkCertificateHostId(tls.certificate, settings.hostId);
  if (args.checkConfig) {
    process.stdout.write('config OK\n');
    return 0;
  }
  log.info({ version: cordonVersion(), hostId: settings.hostId, config: file ?? '(defaults and environment)' }, 'starting');
  trustCordonCaOnly(process.execArgv, process.env);
  const agent = await runDaemon(settings, tls, engine, log, { createWatcher: (send) => createWatcher(settings, log, send), createGuard: (send) => createGuard(settings, log, send), createListenerWatcher: (send) => createListenerWatcher(settings, log, send) });
  onShutdownSignals(() => agent.stop(), log);
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    const e = asCordonError(err);
    process.stderr.write(`cordon-agent: ${e.kind === 'internal' ? (e.stack ?? e.message) : e.message}\n`);
    process.exit(1);
  },
);
