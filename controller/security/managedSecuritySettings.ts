import type { GuardedService } from '../../proto/gen/cordon/v1/agent.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { parseCidr } from '../../proto/runtime/cidr.js';

/** Managed security as the controller applies it (config `managedSecurity`). */
export interface ManagedSecuritySettings {
  /** Hosts that took it, by id. */
  hosts: Set<string>;
  /** Customers that took it for all their hosts, by id. */
  customers: Set<string>;
  services: GuardedService[];
  baseBanSeconds: number;
  maxBanSeconds: number;
  forgetAfterSeconds: number;
  allowed: string[];
  maxBans: number;
  /** Ban events recorded per host and minute at most; more are logged and dropped (a hostile agent cannot fill the audit log). */
  maxEventsPerMinute: number;
  /** How often each agent stream re-reads its host's policy (a lift made on another replica arrives within this). */
  resyncSeconds: number;
  /** How often agents list the sockets listening on public interfaces (new-socket monitoring); 0: off. */
  listenerCheckSeconds: number;
  /** Failed logins in the host's journal within authWindowSeconds that ban a source; 0: the journal is not read. */
  authFailures: number;
  authWindowSeconds: number;
}

export interface ManagedSecurityConfig {
  hosts: string[];
  customers: string[];
  services: { name: string; ports: number[]; newConnectionsPerMinute: number; burst: number }[];
  baseBanSeconds: number;
  maxBanSeconds: number;
  forgetAfterSeconds: number;
  allowed: string[];
  maxBans: number;
  maxEventsPerMinute: number;
  resyncSeconds: number;
  listenerCheckSeconds: number;
  authFailures: number;
  authWindowSeconds: number;
}

const NAME = /^[a-z][a-z0-9]{0,15}$/;
const fail = (field: string, message: string): never => {
  throw new CordonError('invalid', `${field}: ${message}`, { field });
};

/** The config's `managedSecurity` section, checked strictly (each error names its field); undefined when no host or customer took it. */
export function managedSecurityFromConfig(c: ManagedSecurityConfig): ManagedSecuritySettings | undefined {
  if (!Array.isArray(c.services) || c.services.length === 0) fail('managedSecurity.services', 'name at least one service');
  if (c.services.length > 16) fail('managedSecurity.services', `at most 16 services, got ${c.services.length}`);
  const names = new Set<string>();
  c.services.forEach((s, i) => {
    const at = `managedSecurity.services[${i}]`;
    if (typeof s?.name !== 'string' || !NAME.test(s.name)) fail(`${at}.name`, `must match ${NAME} (it names nft sets)`);
    if (names.has(s.name)) fail(`${at}.name`, `duplicate service ${s.name}`);
    names.add(s.name);
    if (!Array.isArray(s.ports) || s.ports.length === 0 || !s.ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65_535)) fail(`${at}.ports`, 'must be TCP ports 1-65535, at least one');
    if (!Number.isInteger(s.newConnectionsPerMinute) || s.newConnectionsPerMinute < 1 || s.newConnectionsPerMinute > 100_000) fail(`${at}.newConnectionsPerMinute`, 'must be an integer in [1, 100000]');
    if (!Number.isInteger(s.burst) || s.burst < 1 || s.burst > 100_000) fail(`${at}.burst`, 'must be an integer in [1, 100000]');
  });
  if (c.maxBanSeconds < c.baseBanSeconds) fail('managedSecurity.maxBanSeconds', `must be at least baseBanSeconds (${c.baseBanSeconds})`);
  if (c.maxBanSeconds > 365 * 86_400) fail('managedSecurity.maxBanSeconds', 'at most a year (31536000)');
  if (c.listenerCheckSeconds !== 0 && (c.listenerCheckSeconds < 5 || c.listenerCheckSeconds > 3600)) fail('managedSecurity.listenerCheckSeconds', 'must be 0 (off) or in [5, 3600]');
  if (c.authFailures > 1000) fail('managedSecurity.authFailures', 'at most 1000 (0 turns journal reading off)');
  if (c.authWindowSeconds < 1 || c.authWindowSeconds > 86_400) fail('managedSecurity.authWindowSeconds', 'must be in [1, 86400]');
  if (c.maxBans > 65_535) fail('managedSecurity.maxBans', 'at most 65535 per address family');
  c.allowed.forEach((a, i) => {
    try {
      parseCidr(a);
    } catch (err) {
      fail(`managedSecurity.allowed[${i}]`, (err as Error).message);
    }
  });
  if (c.hosts.length === 0 && c.customers.length === 0) return undefined;
  return {
    hosts: new Set(c.hosts),
    customers: new Set(c.customers),
    services: c.services.map((s) => ({ name: s.name, ports: [...s.ports], newConnectionsPerMinute: s.newConnectionsPerMinute, burst: s.burst })),
    baseBanSeconds: c.baseBanSeconds,
    maxBanSeconds: c.maxBanSeconds,
    forgetAfterSeconds: c.forgetAfterSeconds,
    allowed: [...c.allowed],
    maxBans: c.maxBans,
    maxEventsPerMinute: c.maxEventsPerMinute,
    resyncSeconds: c.resyncSeconds,
    listenerCheckSeconds: c.listenerCheckSeconds,
    authFailures: c.authFailures,
    authWindowSeconds: c.authWindowSeconds,
  };
}
