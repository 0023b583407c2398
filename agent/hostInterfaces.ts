import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { InterfaceRole, type Interface } from '../proto/gen-messages/cordon/v1/agent.js';

/** Whether the kernel reports the link as up (operstate up or unknown, e.g. for tun). */
export function linkUp(name: string): boolean {
  try {
    const state = readFileSync(`/sys/class/net/${name}/operstate`, 'utf8').trim();
    return state === 'up' || state === 'unknown';
  } catch {
    return false;
  }
}

/** The configured interfaces with their roles, addresses and link state as the host has them now. */
export function describeInterfaces(config: { public: string[]; management: string[] }): Interface[] {
  const all = networkInterfaces();
  const describe = (name: string, role: InterfaceRole): Interface => ({
    name,
    role,
    addresses: (all[name] ?? []).map((a) => a.cidr ?? a.address),
    linkUp: linkUp(name),
  });
  return [
    ...config.public.map((n) => describe(n, InterfaceRole.INTERFACE_ROLE_PUBLIC)),
    ...config.management.map((n) => describe(n, InterfaceRole.INTERFACE_ROLE_MANAGEMENT)),
  ];
}
