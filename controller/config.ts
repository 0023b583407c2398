import type convict from 'convict';
import { loadConfig, type LoadOptions } from '../proto/runtime/config.js';
import { LOG_LEVELS } from '../proto/runtime/logger.js';

/** Every controller setting, its default and its meaning, in one place. */
export const controllerSchema = {
  listen: {
    doc: 'Address the gRPC server (AgentService, DeskService, health) listens on: host:port on the management network. Port 0 picks a free port.',
    format: 'address',
    default: '127.0.0.1:7443',
    env: 'CORDON_LISTEN',
  },
  tls: {
    ca: {
      doc: 'Cordon CA certificate (PEM); agents and operators must present a certificate it signed.',
      format: String,
      default: '/etc/cordon/pki/ca.crt',
      env: 'CORDON_TLS_CA',
    },
    cert: {
      doc: "The controller's certificate (PEM, serverAuth, with the names agents dial).",
      format: String,
      default: '/etc/cordon/pki/controller.crt',
      env: 'CORDON_TLS_CERT',
    },
    key: {
      doc: "The controller's private key (PEM).",
      format: String,
      default: '/etc/cordon/pki/controller.key',
      env: 'CORDON_TLS_KEY',
    },
    revokedSerialsFile: {
      doc: 'File listing revoked certificate serials (hex, one per line; written by `cordon-pki revoke`). Re-read when it changes. Empty: none.',
      format: String,
      default: '/etc/cordon/pki/revoked-serials',
      env: 'CORDON_TLS_REVOKED',
    },
  },
  agents: {
    staleAfterMissedHeartbeats: {
      doc: 'An agent whose heartbeats have been missing for this many of its own intervals is marked stale.',
      format: 'positive-int',
      default: 3,
    },
    pingIntervalSeconds: {
      doc: 'How often the controller pings each agent to measure the round trip.',
      format: 'positive-int',
      default: 30,
    },
    helloTimeoutSeconds: {
      doc: 'A stream that sends no Hello within this time is closed.',
      format: 'positive-int',
      default: 10,
    },
  },
  inventory: {
    file: {
      doc: 'Optional JSON inventory imported into the store at start ({"hosts": [{"id", "customerId", "publicPrefixes", "managementAddress"}], "customers": [{"id", "name", "email"}]}). Empty: hosts come only from `cordonctl host add`. Agents of hosts not in the store are refused.',
      format: String,
      default: '',
      env: 'CORDON_INVENTORY',
    },
  },
  store: {
    path: {
      doc: 'The SQLite file holding hosts, complaints, incidents, desired states, the outbox and the audit log.',
      format: String,
      default: '/var/lib/cordon/cordon.db',
      env: 'CORDON_STORE',
    },
  },
  mail: {
    smtp: {
      host: { doc: 'SMTP relay for customer mail.', format: String, default: '127.0.0.1', env: 'CORDON_SMTP_HOST' },
      port: { doc: 'SMTP relay port.', format: 'port', default: 25, env: 'CORDON_SMTP_PORT' },
      secure: { doc: 'TLS from the first byte (port 465).', format: Boolean, default: false },
      requireTLS: { doc: 'Refuse to send unless the relay offers STARTTLS.', format: Boolean, default: false },
      user: { doc: 'SMTP AUTH user; empty: no AUTH.', format: String, default: '' },
      password: { doc: 'SMTP AUTH password.', format: String, default: '', sensitive: true, env: 'CORDON_SMTP_PASSWORD' },
    },
    from: { doc: 'From address of customer mail.', format: String, default: 'abuse@localhost' },
    replyTo: { doc: 'Where customers answer.', format: String, default: 'abuse@localhost' },
    deskName: { doc: 'The desk as the mail names it.', format: String, default: 'Abuse desk' },
    maxAttempts: { doc: 'Delivery attempts before a mail is given up (kept, logged).', format: 'positive-int', default: 20 },
  },
  bmc: {
    cipherSuite: { doc: 'IPMI 2.0 (lanplus) cipher suite: 3 works almost everywhere, 17 where supported.', format: 'positive-int', default: 3 },
    timeoutSeconds: { doc: 'ipmitool -N: seconds to wait for a BMC reply.', format: 'positive-int', default: 1 },
    retries: { doc: 'ipmitool -R: retransmissions per command.', format: 'positive-int', default: 1 },
    attempts: { doc: 'Commands tried before a BMC is declared unreachable.', format: 'positive-int', default: 2 },
    concurrency: { doc: 'BMCs checked at once.', format: 'positive-int', default: 4 },
    minIntervalSeconds: { doc: 'At least this long between two checks of the same BMC (faster polling can crash a BMC).', format: 'positive-int', default: 5 },
    freshMinutes: { doc: 'A check older than this does not count before a cut.', format: 'positive-int', default: 15 },
  },
  switchFallback: {
    enabled: { doc: 'Shut a host\'s switch port (inventory "switchPorts") when it should be cut and its agent is silent or tampered with.', format: Boolean, default: true },
    silentSeconds: { doc: 'Agent silence, while its host should be cut, after which the switch port is shut.', format: 'positive-int', default: 90 },
    tamperThreshold: { doc: 'Tamper reports within the window that also hand the cut to the switch.', format: 'positive-int', default: 3 },
    tamperWindowSeconds: { doc: 'The tamper window.', format: 'positive-int', default: 600 },
    sweepSeconds: { doc: 'How often the fallback compares what should be with what is.', format: 'positive-int', default: 5 },
  },
  enforcement: {
    smtpRelays: {
      doc: "The provider's own smarthosts, which an SMTP block still lets the host reach.",
      format: 'cidr-list',
      default: [] as string[],
    },
  },
  policy: {
    trustedReporterKinds: {
      doc: 'Reporter kinds whose complaints may lead to automatic enforcement.',
      format: 'name-list',
      default: ['own_monitoring', 'upstream', 'cert'],
    },
    maxAutomaticPerHour: {
      doc: 'Fleet-wide cap of automatic enforcements per rolling hour; beyond it incidents wait for an operator.',
      format: 'positive-int',
      default: 20,
    },
    ladderStepHours: {
      doc: 'Hours an enforced, unanswered incident waits before the next action of its ladder.',
      format: 'positive-int',
      default: 24,
    },
    recidivism: {
      incidents: { doc: 'Incidents of one customer within the window that flag a termination review.', format: 'positive-int', default: 3 },
      windowDays: { doc: 'The recidivism window.', format: 'positive-int', default: 90 },
      migrationDays: { doc: 'The migration period the termination notice states.', format: 'positive-int', default: 30 },
    },
    categories: {
      doc: 'Per-category overrides: {"spam": {"ackHours": 12, "resolveHours": 48, "immediate": false, "ladder": [{"kind": "smtp_block"}, {"kind": "isolate"}]}}.',
      format: Object,
      default: {} as Record<string, unknown>,
    },
  },
  metrics: {
    listen: {
      doc: 'host:port for Prometheus metrics (GET /metrics); empty disables them.',
      format: 'optional-address',
      default: '127.0.0.1:9477',
      env: 'CORDON_METRICS_LISTEN',
    },
  },
  clock: {
    drill: {
      doc: 'Drill mode, for labs and exercises only: an admin may move the incident clock forward (`cordonctl clock advance`) so deadlines pass in seconds. Every move is audited. Never enable it in production.',
      format: Boolean,
      default: false,
    },
  },
  log: {
    pretty: {
      doc: 'Human-readable coloured log lines instead of JSON, for a terminal (also --log-pretty). journald wants JSON.',
      format: Boolean,
      default: false,
    },
    level: {
      doc: 'Log level.',
      format: LOG_LEVELS as string[],
      default: 'info',
      env: 'CORDON_LOG_LEVEL',
    },
  },
};

export type ControllerConfig = convict.Config<{
  listen: string;
  tls: { ca: string; cert: string; key: string; revokedSerialsFile: string };
  agents: { staleAfterMissedHeartbeats: number; pingIntervalSeconds: number; helloTimeoutSeconds: number };
  inventory: { file: string };
  store: { path: string };
  clock: { drill: boolean };
  mail: {
    smtp: { host: string; port: number; secure: boolean; requireTLS: boolean; user: string; password: string };
    from: string;
    replyTo: string;
    deskName: string;
    maxAttempts: number;
  };
  bmc: { cipherSuite: number; timeoutSeconds: number; retries: number; attempts: number; concurrency: number; minIntervalSeconds: number; freshMinutes: number };
  switchFallback: { enabled: boolean; silentSeconds: number; tamperThreshold: number; tamperWindowSeconds: number; sweepSeconds: number };
  enforcement: { smtpRelays: string[] };
  policy: {
    trustedReporterKinds: string[];
    maxAutomaticPerHour: number;
    ladderStepHours: number;
    recidivism: { incidents: number; windowDays: number; migrationDays: number };
    categories: Record<string, unknown>;
  };
  metrics: { listen: string };
  log: { level: string; pretty: boolean };
}>;

export function loadControllerConfig(opts: LoadOptions): ControllerConfig {
  return loadConfig(controllerSchema as never, opts) as ControllerConfig;
}
