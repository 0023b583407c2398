import type { DetectionPolicy } from '../../proto/gen/cordon/v1/agent.js';

/** What one host's agent counts against, and how often its observations may become complaints. */
export interface HostDetection {
  /** Sent to the host's agent after its Hello; `enabled` false takes its watch table down. */
  policy: DetectionPolicy;
  /** At most one complaint per host and kind within this. */
  minIntervalMs: number;
}

/** An override: any of the fleet's fields, the others left to the level below. */
export type DetectionOverride = Partial<DetectionPolicy> & { minIntervalMs?: number };

/** The config's `detection` section, checked (detectionFromConfig.ts). */
export interface DetectionSettings {
  /** The fleet's default; `enabled` false when only some host or customer turned detection on. */
  policy: DetectionPolicy;
  minIntervalMs: number;
  /** Overrides by host id and by customer id. */
  hosts?: ReadonlyMap<string, DetectionOverride>;
  customers?: ReadonlyMap<string, DetectionOverride>;
}

/**
 * A host's effective detection: its own override's keys, over its
 * customer's, over the fleet's, key by key. A host the inventory does not
 * know gets the fleet's. Pure: the inventory is asked by the caller, at
 * each Hello and each observation, so a host moved to another customer
 * takes that customer's thresholds at its next connection.
 */
export function effectiveDetection(s: DetectionSettings, host: { id: string; customerId: string } | undefined): HostDetection {
  const customer = host ? s.customers?.get(host.customerId) : undefined;
  const own = host ? s.hosts?.get(host.id) : undefined;
  const { minIntervalMs, ...policy } = { ...s.policy, minIntervalMs: s.minIntervalMs, ...customer, ...own };
  return { policy, minIntervalMs };
}

/**
 * The override ids nothing in the inventory matches: a host id not in it,
 * a customer with no host in it. Warned about at start, not refused: the
 * inventory changes while the config stays (a host added later takes its
 * override at its first Hello).
 */
export function unmatchedOverrides(s: DetectionSettings, hosts: readonly { id: string; customerId: string }[]): { hosts: string[]; customers: string[] } {
  const ids = new Set(hosts.map((h) => h.id));
  const customers = new Set(hosts.map((h) => h.customerId));
  return { hosts: [...(s.hosts?.keys() ?? [])].filter((id) => !ids.has(id)), customers: [...(s.customers?.keys() ?? [])].filter((id) => !customers.has(id)) };
}
