import type { ManagedSecuritySettings } from '../../controller/security/managedSecuritySettings.js';

/**
 * Managed-security settings for a test controller: ssh guarded on port 22,
 * short bans, new-socket monitoring and journal reading off unless `over`
 * says otherwise. `hosts` and `customers` name who took it.
 */
export function testManagedSecurity(over: Partial<Omit<ManagedSecuritySettings, 'hosts' | 'customers'>> & { hosts?: string[]; customers?: string[] }): ManagedSecuritySettings {
  const { hosts = [], customers = [], ...rest } = over;
  return {
    hosts: new Set(hosts),
    customers: new Set(customers),
    services: [{ name: 'ssh', ports: [22], newConnectionsPerMinute: 10, burst: 10 }],
    baseBanSeconds: 600,
    maxBanSeconds: 3600,
    forgetAfterSeconds: 86_400,
    allowed: [],
    maxBans: 100,
    maxEventsPerMinute: 30,
    resyncSeconds: 15,
    listenerCheckSeconds: 0,
    authFailures: 0,
    authWindowSeconds: 600,
    ...rest,
  };
}
