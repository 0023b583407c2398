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
      doc: 'JSON inventory of hosts ({"hosts": [{"id", "customerId", "publicPrefixes", "managementAddress"}]}). Agents of hosts not listed are refused.',
      format: String,
      default: '/etc/cordon/inventory.json',
      env: 'CORDON_INVENTORY',
    },
  },
  log: {
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
  log: { level: string };
}>;

export function loadControllerConfig(opts: LoadOptions): ControllerConfig {
  return loadConfig(controllerSchema as never, opts) as ControllerConfig;
}
