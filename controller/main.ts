#!/usr/bin/env -S node --disable-warning=DEP0123
// cordon-controller: the abuse desk's daemon on the management network.
import { existsSync } from 'node:fs';
import { asCordonError } from '../proto/runtime/CordonError.js';
import { printableConfig } from '../proto/runtime/config.js';
import { onShutdownSignals, parseDaemonArgs } from '../proto/runtime/daemonArgs.js';
import { createRootLogger } from '../proto/runtime/logger.js';
import { loadTlsMaterial } from '../proto/runtime/tls.js';
import { cordonVersion } from '../proto/runtime/version.js';
import { loadControllerConfig } from './config.js';
import { startController } from './createController.js';
import { loadInventoryFile } from './inventory/Inventory.js';

const USAGE = `usage: cordon-controller [--config FILE] [--check-config | --print-config]

  --config FILE    JSON config (default: $CORDON_CONTROLLER_CONFIG, else /etc/cordon/controller.json if present)
  --check-config   validate the config and the files it names, exit 0 if usable, 1 if not
  --print-config   print the effective config (secrets redacted) and exit
`;

async function main(argv: string[]): Promise<number> {
  const args = parseDaemonArgs(argv, { envVar: 'CORDON_CONTROLLER_CONFIG', env: process.env });
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`cordon-controller ${cordonVersion()}\n`);
    return 0;
  }
  const defaultFile = '/etc/cordon/controller.json';
  const file = args.configFile ?? (existsSync(defaultFile) ? defaultFile : undefined);
  const config = loadControllerConfig({ file, env: process.env });
  if (args.printConfig) {
    process.stdout.write(printableConfig(config) + '\n');
    return 0;
  }
  // Everything the daemon needs from disk is read now, so a bad path fails
  // here (and in --check-config) rather than at the first agent.
  const tls = loadTlsMaterial(config.get('tls'));
  const inventory = loadInventoryFile(config.get('inventory.file'));
  if (args.checkConfig) {
    process.stdout.write(`config OK (${inventory.list().length} hosts)\n`);
    return 0;
  }

  const log = createRootLogger({ name: 'cordon-controller', level: config.get('log.level') });
  log.info({ version: cordonVersion(), config: file ?? '(defaults and environment)' }, 'starting');
  const controller = await startController({
    listen: config.get('listen'),
    tls,
    revokedSerialsFile: config.get('tls.revokedSerialsFile'),
    inventory,
    staleAfterMissedHeartbeats: config.get('agents.staleAfterMissedHeartbeats'),
    pingIntervalMs: config.get('agents.pingIntervalSeconds') * 1000,
    helloTimeoutMs: config.get('agents.helloTimeoutSeconds') * 1000,
    log,
  });
  onShutdownSignals(() => controller.stop(), log);
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    const e = asCordonError(err);
    process.stderr.write(`cordon-controller: ${e.kind === 'internal' ? (e.stack ?? e.message) : e.message}\n`);
    process.exit(1);
  },
);
