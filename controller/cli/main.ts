#!/usr/bin/env -S node --use-openssl-ca
// cordonctl: the operators' command line for the Cordon controller.
// Only what every command needs is imported here; each command's module (and
// gRPC, the generated messages, the intake stack) is imported when it runs,
// so --help and a usage error answer at once.
import { parseArgs } from 'node:util';
import { CordonError, asCordonError } from '../../proto/runtime/CordonError.js';
import { cordonVersion } from '../../proto/runtime/version.js';
import { CLI_OPTIONS, USAGE } from './commandLine.js';
import type { DeskClient } from './deskClient.js';
import type { Flags } from './incidentCommands.js';
import { routeCommand, type CommandGroup } from './routeCommand.js';
import { trustCordonCaOnly } from '../../proto/runtime/trustCordonCaOnly.js';

type Out = (text: string) => void;
type Run = (client: DeskClient, words: string[], f: Flags, out: Out) => Promise<number>;

/** Each group's module, imported on first use. */
const LOADERS: Record<Exclude<CommandGroup, 'ingest'>, () => Promise<Run>> = {
  fleet: async () => (await import('./fleetCommands.js')).runFleetCommand,
  host: async () => (await import('./hostCommands.js')).runHostCommand,
  customerVoice: async () => (await import('./customerVoiceCommands.js')).runCustomerVoiceCommand,
  dueProcess: async () => (await import('./dueProcessCommands.js')).runDueProcessCommand,
  reporter: async () => (await import('./reporterCommands.js')).runReporterCommand,
  clock: async () => {
    const { clockCommand } = await import('./clockCommand.js');
    return (client, words, f, out) => clockCommand(client, words, f.reason as string | undefined, f.json === true, out);
  },
  incident: async () => {
    const { runIncidentCommand } = await import('./incidentCommands.js');
    // `incident list --host H` filters by one host; --host repeats only for enforce.
    return (client, words, f, out) => runIncidentCommand(client, words, { ...f, host: words[0] === 'enforce' ? f.host : (f.host as string[] | undefined)?.[0] }, out);
  },
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: CLI_OPTIONS });
  if (values.version) {
    process.stdout.write(`cordonctl ${cordonVersion()}\n`);
    return 0;
  }
  const [command] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const out: Out = (t) => process.stdout.write(t);
  const group = routeCommand(positionals);
  // Parsing alone needs no controller and no certificate.
  if (group === 'ingest' && values['dry-run']) {
    const { ingestDryRun } = await import('./ingestCommand.js');
    return ingestDryRun(positionals[1], values.json === true, out, { reporters: values.reporters, dnsServers: values['dns-server'] });
  }
  trustCordonCaOnly(process.execArgv, process.env);
  const timeoutMs = values.timeout === undefined ? 10_000 : Number(values.timeout);
  if (!(timeoutMs > 0)) throw new CordonError('invalid', 'must be a positive number of milliseconds', { field: '--timeout' });
  const [{ resolveConnection }, { DeskClient }] = await Promise.all([import('./connection.js'), import('./deskClient.js')]);
  const client = new DeskClient(resolveConnection(values, process.env), { timeoutMs });
  try {
    if (group === 'ingest') {
      const { ingestMaildir, ingestOne } = await import('./ingestCommand.js');
      return values.maildir ? await ingestMaildir(client, values.maildir, out) : await ingestOne(client, positionals[1], values.json === true, out);
    }
    const run = await LOADERS[group]();
    return await run(client, positionals, values as Flags, out);
  } finally {
    client.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = asCordonError(err);
    process.stderr.write(`cordonctl: ${e.message}\n`);
    process.exit(e.kind === 'invalid' ? 2 : 1);
  },
);
