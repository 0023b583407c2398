#!/usr/bin/env -S node --disable-warning=DEP0123
// cordon-agent: converges this dedicated server to the enforcement the controller decides.
import { existsSync } from 'node:fs';
import { EnforcementKind, ResultStatus, type DesiredState, type Report } from '../proto/gen/cordon/v1/agent.js';
import { asCordonError } from '../proto/runtime/CordonError.js';
import { printableConfig } from '../proto/runtime/config.js';
import { onShutdownSignals, parseDaemonArgs } from '../proto/runtime/daemonArgs.js';
import { createRootLogger } from '../proto/runtime/logger.js';
import { loadTlsMaterial } from '../proto/runtime/tls.js';
import { cordonVersion } from '../proto/runtime/version.js';
import { checkCertificateHostId } from './certificateHostId.js';
import { loadAgentConfig } from './config.js';
import { describeInterfaces } from './hostInterfaces.js';
import { ControllerLink } from './link/ControllerLink.js';

const USAGE = `usage: cordon-agent [--config FILE] [--check-config | --print-config]

  --config FILE    JSON config (default: $CORDON_AGENT_CONFIG, else /etc/cordon/agent.json if present)
  --check-config   validate the config and the files it names, exit 0 if usable, 1 if not
  --print-config   print the effective config (secrets redacted) and exit
`;

async function main(argv: string[]): Promise<number> {
  const args = parseDaemonArgs(argv, { envVar: 'CORDON_AGENT_CONFIG', env: process.env });
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`cordon-agent ${cordonVersion()}\n`);
    return 0;
  }
  const defaultFile = '/etc/cordon/agent.json';
  const file = args.configFile ?? (existsSync(defaultFile) ? defaultFile : undefined);
  const config = loadAgentConfig({ file, env: process.env });
  if (args.printConfig) {
    process.stdout.write(printableConfig(config) + '\n');
    return 0;
  }
  const tls = loadTlsMaterial(config.get('tls'));
  checkCertificateHostId(tls.certificate, config.get('hostId'));
  if (args.checkConfig) {
    process.stdout.write('config OK\n');
    return 0;
  }

  const log = createRootLogger({ name: 'cordon-agent', level: config.get('log.level') });
  const hostId = config.get('hostId');
  log.info({ version: cordonVersion(), hostId, config: file ?? '(defaults and environment)' }, 'starting');
  let held: DesiredState | undefined;
  const link = new ControllerLink({
    hostId,
    agentVersion: cordonVersion(),
    address: config.get('controller.address'),
    serverName: config.get('controller.serverName'),
    tls,
    heartbeatMs: config.get('heartbeatSeconds') * 1000,
    backoff: config.get('reconnect'),
    log: log.child({ component: 'link' }),
    held: () => ({
      generation: held?.generation ?? 0n,
      observedDigest: '',
      interfaces: describeInterfaces(config.get('interfaces')),
    }),
    // This build has no enforcement backend yet: say so for every enforcement
    // instead of pretending to apply it.
    onDesiredState: async (state): Promise<Report> => {
      held = state;
      log.warn({ generation: state.generation.toString() }, 'desired state received; no enforcement backend in this build');
      return {
        appliedGeneration: 0n,
        observedDigest: '',
        observedAt: new Date(),
        error: 'no enforcement backend in this build',
        results: state.enforcements.map((e) => ({
          enforcementId: e.id,
          kind: EnforcementKind.ENFORCEMENT_KIND_UNSPECIFIED,
          status: ResultStatus.RESULT_STATUS_REFUSED,
          error: 'no enforcement backend in this build',
        })),
      };
    },
  });
  link.start();
  onShutdownSignals(() => link.stop(), log);
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
