#!/usr/bin/env -S node --disable-warning=DEP0123
// cordonctl: the operators' command line for the Cordon controller.
import { parseArgs } from 'node:util';
import { AgentSession, AgentState, Host } from '../../proto/gen/cordon/v1/desk.js';
import { CordonError, asCordonError } from '../../proto/runtime/CordonError.js';
import { cordonVersion } from '../../proto/runtime/version.js';
import { resolveConnection } from './connection.js';
import { DeskClient } from './deskClient.js';
import { runIncidentCommand, type Flags } from './incidentCommands.js';
import { HOST_COMMAND_OPTIONS, HOST_COMMAND_USAGE, isHostCommand, runHostCommand } from './hostCommands.js';
import { clockCommand } from './clockCommand.js';
import { INGEST_AUTH_USAGE, REPORTER_COMMAND_OPTIONS, REPORTER_COMMAND_USAGE, isReporterCommand, runReporterCommand } from './reporterCommands.js';
import { isDueProcessCommand, runDueProcessCommand } from './dueProcessCommands.js';
import { CUSTOMER_VOICE_OPTIONS, CUSTOMER_VOICE_USAGE, isCustomerVoiceCommand, runCustomerVoiceCommand } from './customerVoiceCommands.js';
import { ingestDryRun, ingestMaildir, ingestOne } from './ingestCommand.js';
import { age, renderTable } from './table.js';

const USAGE = `usage: cordonctl [connection options] COMMAND [--json]

commands (--json on every read command):
  agents                         agent sessions: state, version, last heartbeat, generation held
  hosts | host list              hosts with their agent's state
  host add --id H --customer C --prefix CIDR [--prefix …] --management IP [--customer-name N --customer-email E]
           [--bmc-address A --bmc-user U --bmc-password-file F [--bmc-sol]]   (the BMC flags: admin only)
  host show H                    desired state, generation, dispatch status
  host bmc-check H               check the host's BMC (IPMI) now; exit 1 when it does not answer
${HOST_COMMAND_USAGE}  health                         the controller's gRPC health status
  ingest [FILE|-]                a raw report (ARF, X-ARF, Shadowserver CSV, ACNS, plain text) to the controller
  ingest --dry-run [--json] [FILE|-]   what Cordon would make of it, without a controller
  ingest --maildir DIR           every message in DIR/new, moved to DIR/cur once committed
${INGEST_AUTH_USAGE}${REPORTER_COMMAND_USAGE}  complaint submit --ip IP --category C --reporter-kind K [--reporter R] [--event-time T] [--evidence E] [--raw FILE|-]
  incident list [--state S] [--host H] [--customer C]
  incident show ID               the incident with its event history, the customer's messages, files and page links
  incident answer ID --ack | --fixed | --false-positive | --plan DATE  [--note TEXT]
                                 record the customer's answer; --note (what the customer said) is required
                                 for --fixed, --false-positive and --plan
  incident verify ID | reject-dispute ID | dismiss ID --reason R | release ID
                                 on an appealed incident (the customer contests a restriction in force):
                                 verify ID --reason R accepts the appeal and lifts the restriction;
                                 reject-dispute ID --reason R keeps it and restarts the ladder's clock
${CUSTOMER_VOICE_USAGE}  incident override-bmc ID --reason R   let a cut held for an unanswering BMC proceed
  enforce (--incident ID | --host H [--host …] | --customer C) --action smtp_block|throttle|isolate|nic_down [--rate BPS] --reason R
  approvals                      approval requests (four eyes), with why each needs a second operator and when it expires
  approve APPROVAL               grant another operator's request (four eyes): the action happens in the same transaction
  approvals reject APPROVAL --reason R   refuse a request (the requester may withdraw their own)
  complaints [--status S]        complaints by status: held (default), duplicate, needs_info, rejected, linked
  complaint admit|dismiss ID --reason R   route a held complaint now, or dismiss it
  reviews [--status S]           termination reviews: open, confirmed, declined
  review confirm|decline ID --reason R    decide a review; only a confirmation sends the migration notice
  audit verify                   recompute the audit log's hash chain
  clock advance DURATION [--reason R]   move the incident clock forward (25h, 1d2h, 90m; admin; drill mode only)

connection options (or environment):
  --controller HOST:PORT     controller address ($CORDON_CONTROLLER, default 127.0.0.1:7443)
  --pki DIR --operator NAME  use DIR/ca.crt and DIR/operator-NAME.{crt,key} ($CORDON_PKI_DIR, $CORDON_OPERATOR)
  --ca F --cert F --key F    explicit files ($CORDON_CA, $CORDON_CERT, $CORDON_KEY)
  --server-name NAME         name to verify in the controller's certificate
  --timeout MS               per-call deadline (default 10000)
`;

const STATE_NAME: Record<number, string> = {
  [AgentState.AGENT_STATE_NEVER_SEEN]: 'never-seen',
  [AgentState.AGENT_STATE_CONNECTED]: 'connected',
  [AgentState.AGENT_STATE_STALE]: 'stale',
  [AgentState.AGENT_STATE_DISCONNECTED]: 'disconnected',
};

/** Proto3 JSON mapping (ts-proto toJSON), with agent states shortened for scripts. */
function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      controller: { type: 'string' },
      pki: { type: 'string' },
      operator: { type: 'string' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'server-name': { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      id: { type: 'string' },
      customer: { type: 'string' },
      'customer-name': { type: 'string' },
      'customer-email': { type: 'string' },
      prefix: { type: 'string', multiple: true },
      management: { type: 'string' },
      'bmc-address': { type: 'string' },
      'bmc-user': { type: 'string' },
      'bmc-password-file': { type: 'string' },
      'bmc-sol': { type: 'boolean' },
      ip: { type: 'string' },
      category: { type: 'string' },
      reporter: { type: 'string' },
      'reporter-kind': { type: 'string' },
      'event-time': { type: 'string' },
      evidence: { type: 'string' },
      raw: { type: 'string' },
      state: { type: 'string' },
      host: { type: 'string', multiple: true },
      ack: { type: 'boolean' },
      fixed: { type: 'boolean' },
      'false-positive': { type: 'boolean' },
      plan: { type: 'string' },
      note: { type: 'string' },
      reason: { type: 'string' },
      incident: { type: 'string' },
      action: { type: 'string' },
      rate: { type: 'string' },
      'dry-run': { type: 'boolean' },
      maildir: { type: 'string' },
      status: { type: 'string' },
      version: { type: 'boolean' },
      ...REPORTER_COMMAND_OPTIONS,
      ...HOST_COMMAND_OPTIONS,
      ...CUSTOMER_VOICE_OPTIONS,
    },
  });
  if (values.version) {
    process.stdout.write(`cordonctl ${cordonVersion()}\n`);
    return 0;
  }
  const [command] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const simple = ['agents', 'hosts', 'health'].includes(command) || (command === 'host' && positionals[1] === 'list');
  const out = (t: string) => process.stdout.write(t);
  // Parsing alone needs no controller and no certificate.
  if (command === 'ingest' && values['dry-run']) return ingestDryRun(positionals[1], values.json === true, out, { reporters: values.reporters, dnsServers: values['dns-server'] });
  const timeoutMs = values.timeout === undefined ? 10_000 : Number(values.timeout);
  if (!(timeoutMs > 0)) throw new CordonError('invalid', 'must be a positive number of milliseconds', { field: '--timeout' });
  const client = new DeskClient(resolveConnection(values, process.env), { timeoutMs });
  const now = new Date();
  try {
    if (isHostCommand(positionals)) return await runHostCommand(client, positionals, values as Flags, out);
    if (isCustomerVoiceCommand(positionals)) return await runCustomerVoiceCommand(client, positionals, values as Flags, out);
    if (isDueProcessCommand(positionals)) return await runDueProcessCommand(client, positionals, values as Flags, out);
    if (isReporterCommand(positionals)) return await runReporterCommand(client, positionals, values as Flags, out);
    if (command === 'clock') return await clockCommand(client, positionals, values.reason, values.json === true, out);
    if (command === 'ingest') {
      return values.maildir ? await ingestMaildir(client, values.maildir, out) : await ingestOne(client, positionals[1], values.json === true, out);
    }
    if (!simple) {
      // `incident list --host H` filters by one host; --host repeats only for enforce.
      const flags = { ...values, host: command === 'enforce' ? values.host : values.host?.[0] } as Flags;
      return await runIncidentCommand(client, positionals, flags, (t) => process.stdout.write(t));
    }
    switch (command === 'host' ? 'hosts' : command) {
      case 'agents': {
        const { agents } = await client.listAgents();
        if (values.json) {
          process.stdout.write(
            json(agents.map((a) => ({ ...(AgentSession.toJSON(a) as object), state: STATE_NAME[a.state] ?? 'unknown' }))),
          );
        } else {
          process.stdout.write(
            renderTable(
              ['HOST', 'STATE', 'VERSION', 'CONNECTED', 'HEARTBEAT', 'GENERATION', 'RTT', 'PEER'],
              agents.map((a) => [
                a.hostId,
                STATE_NAME[a.state] ?? 'unknown',
                a.agentVersion,
                age(a.connectedSince, now),
                age(a.lastHeartbeat, now),
                a.generationHeld.toString(),
                a.lastRttMs ? `${a.lastRttMs}ms` : '-',
                a.peerAddress,
              ]),
            ),
          );
        }
        return 0;
      }
      case 'hosts': {
        const { hosts } = await client.listHosts();
        if (values.json) {
          process.stdout.write(
            json(hosts.map((h) => ({ ...(Host.toJSON(h) as object), agentState: STATE_NAME[h.agentState] ?? 'unknown' }))),
          );
        } else {
          process.stdout.write(
            renderTable(
              ['HOST', 'CUSTOMER', 'AGENT', 'MANAGEMENT', 'PUBLIC PREFIXES'],
              hosts.map((h) => [
                h.id,
                h.customerId,
                STATE_NAME[h.agentState] ?? 'unknown',
                h.managementAddress,
                h.publicPrefixes.join(' '),
              ]),
            ),
          );
        }
        return 0;
      }
      default: {
        const status = await client.checkHealth();
        process.stdout.write(values.json ? json({ status }) : `${status}\n`);
        return status === 'SERVING' ? 0 : 1;
      }
    }
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
