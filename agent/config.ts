import type convict from 'convict';
import { CordonError } from '../proto/runtime/CordonError.js';
import { readFileSync } from 'node:fs';
import { MAX_ADDRESSES, loadConfig, type LoadOptions } from '../proto/runtime/config.js';
import { LOG_LEVELS } from '../proto/runtime/Log.js';

/** Every agent setting, its default and its meaning, in one place. */
export const agentSchema = {
  hostId: {
    doc: "This host's id; must equal the host id in the agent certificate's SAN (urn:cordon:host:ID).",
    format: 'host-id',
    default: '',
    env: 'CORDON_AGENT_HOST_ID',
  },
  controller: {
    address: {
      doc:
        "The controller's address on the management network (host:port). A DNS name that resolves to several " +
        'addresses stands for all of them, like controller.addresses. Set this or controller.addresses, not both.',
      format: 'address',
      default: '127.0.0.1:7443',
      env: 'CORDON_AGENT_CONTROLLER',
    },
    addresses: {
      doc:
        `Several controllers (host:port each, at most ${MAX_ADDRESSES}, no duplicates), instead of controller.address. ` +
        'The agent starts at a random one, moves to the next when a dial fails or its stream ends, and backs off ' +
        '(reconnect.*) only after every one failed in a row. A DNS name in the list stands for every address it resolves to.',
      format: 'address-list',
      default: [] as string[],
      env: 'CORDON_AGENT_CONTROLLERS',
    },
    serverName: {
      doc:
        "Name every controller's certificate must carry (its SAN), whatever the address; empty: each address's own " +
        'host is verified (the IP for an IP address, the name for a DNS name, never the IP it resolved to).',
      format: String,
      default: '',
    },
    pollSeconds: {
      doc:
        '0: hold one stream open and take each desired state the moment the controller decides (push). ' +
        'N > 0: poll instead, like a pull-based firewall bouncer: every N seconds connect, say Hello, take the ' +
        'desired state, converge, report and disconnect; decisions then wait for the next poll (N/2 on average) ' +
        'and the controller shows the agent as disconnected between polls.',
      format: 'nat',
      default: 0,
      env: 'CORDON_AGENT_POLL_SECONDS',
    },
  },
  tls: {
    ca: { doc: 'Cordon CA certificate (PEM).', format: String, default: '/etc/cordon/pki/ca.crt' },
    cert: { doc: "This agent's certificate (PEM).", format: String, default: '/etc/cordon/pki/agent.crt' },
    key: { doc: "This agent's private key (PEM).", format: String, default: '/etc/cordon/pki/agent.key' },
  },
  heartbeatSeconds: {
    doc:
      'Interval between heartbeats to the controller while this host is not restricted (no enforcement held). ' +
      'The controller shows the agent stale after agents.staleAfterMissedHeartbeats of them (3 × 60 s by default) and holds ' +
      'agents to at most its agents.maxHeartbeatSeconds (default 60): a longer interval is clamped there, and the agent shows as ' +
      'stale between beats. The HTTP/2 keepalive ping that notices a silent controller goes every max(20 s, this).',
    format: 'positive-int',
    default: 60,
  },
  restrictedHeartbeatSeconds: {
    doc:
      'Interval between heartbeats while the host holds an enforcement (never longer than heartbeatSeconds): a restricted ' +
      "host's silent agent is what hands the cut to the switch, so the controller must notice it quickly. The controller holds " +
      'a restricted host to at most its agents.maxRestrictedHeartbeatSeconds (default 10).',
    format: 'positive-int',
    default: 10,
  },
  reconnect: {
    initialMs: { doc: 'First reconnect delay ceiling (doubles per failed attempt).', format: 'positive-int', default: 500 },
    maxMs: { doc: 'Cap of the reconnect delay.', format: 'positive-int', default: 30_000 },
    connectTimeoutMs: {
      doc:
        'A dial that has not connected (TLS and HTTP/2 up) and had its Hello accepted within this long fails, and the next controller ' +
        "of the list is tried (gRPC alone would wait for the system's TCP timeout, minutes, on an address that drops packets). " +
        'A dial whose connection is up waits up to 120 s for the answer: that controller is there, only busy.',
      format: 'positive-int',
      default: 15_000,
    },
    spreadMs: {
      doc:
        'After an established stream ends (a controller restart), the first redial waits a uniform random time up to this (capped by maxMs), ' +
        'so a fleet spreads its reconnects instead of arriving in one burst; enforcement on the host never waits for the link.',
      format: 'positive-int',
      default: 10_000,
    },
  },
  interfaces: {
    public: {
      doc: "Names of the host's public interfaces, the ones Cordon may restrict.",
      format: 'name-list',
      default: [] as string[],
    },
    management: {
      doc: 'Names of the management interfaces; Cordon never restricts these.',
      format: 'name-list',
      default: [] as string[],
    },
  },
  managementNetworks: {
    doc: 'CIDRs of the management networks (controller, BMCs, jump hosts); always reachable, even when isolated.',
    format: 'cidr-list',
    default: [] as string[],
  },
  backend: {
    doc: '"linux" enforces with nftables, tc and ip link; "dry-run" only logs what it would do.',
    format: ['linux', 'dry-run'],
    default: 'linux',
    env: 'CORDON_AGENT_BACKEND',
  },
  smtpPorts: {
    doc: 'TCP ports an SMTP block covers when the controller names none.',
    format: 'port-list',
    default: [25, 465, 587],
  },
  driftCheckSeconds: {
    doc: 'How often the agent re-reads its rules, qdiscs and links and repairs what someone changed.',
    format: 'positive-int',
    default: 5,
  },
  stateDir: {
    doc: 'Where the agent keeps its desired state across restarts and reboots.',
    format: String,
    default: '/var/lib/cordon-agent',
    env: 'CORDON_AGENT_STATE_DIR',
  },
  log: {
    level: { doc: 'Log level.', format: [...LOG_LEVELS], default: 'info', env: 'CORDON_LOG_LEVEL' },
    pretty: { doc: 'Human-readable log lines for a terminal instead of JSON (also --log-pretty).', format: Boolean, default: false },
  },
};

export interface AgentSettings {
  hostId: string;
  /** `addresses` (when not empty) replaces `address`; settings built in code may leave it out. */
  controller: { address: string; addresses?: string[]; serverName: string; pollSeconds: number };
  tls: { ca: string; cert: string; key: string };
  heartbeatSeconds: number;
  /** Settings built in code may leave it out: heartbeatSeconds then. */
  restrictedHeartbeatSeconds?: number;
  reconnect: { initialMs: number; maxMs: number; spreadMs?: number; connectTimeoutMs?: number };
  interfaces: { public: string[]; management: string[] };
  managementNetworks: string[];
  backend: 'linux' | 'dry-run';
  smtpPorts: number[];
  driftCheckSeconds: number;
  stateDir: string;
  log: { level: string; pretty: boolean };
}

export type AgentConfig = convict.Config<AgentSettings>;

export function loadAgentConfig(opts: LoadOptions): AgentConfig {
  const config = loadConfig(agentSchema as never, opts) as AgentConfig;
  const ifaces = config.get('interfaces');
  const both = ifaces.public.filter((n) => ifaces.management.includes(n));
  if (both.length > 0) {
    throw new CordonError('invalid', `${both.join(', ')} cannot be both public and management`, {
      field: 'interfaces.public',
    });
  }
  if ((config.get('controller.addresses') ?? []).length > 0 && addressIsSet(opts)) {
    throw new CordonError('invalid', 'controller.addresses: set either controller.address or controller.addresses, not both', {
      field: 'controller.addresses',
    });
  }
  return config;
}

/**
 * Whether controller.address was given (file or environment) rather than
 * left at its default: convict does not say where a value came from, and an
 * address equal to the default must still clash with a list. The file was
 * read and checked once already by loadConfig.
 */
function addressIsSet(opts: LoadOptions): boolean {
  if (opts.env?.CORDON_AGENT_CONTROLLER !== undefined) return true;
  if (!opts.file) return false;
  const data = JSON.parse(readFileSync(opts.file, 'utf8')) as { controller?: { address?: unknown } };
  return data.controller?.address !== undefined;
}
