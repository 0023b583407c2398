import type { Cidr } from '../../proto/runtime/cidr.js';

export type EnforcementKindName = 'smtp_block' | 'throttle' | 'isolate' | 'nic_down';

/** One enforcement as the agent understands it, validated. */
export interface EnforcementSpec {
  id: string;
  incidentId: string;
  reason: string;
  action:
    | { kind: 'smtp_block'; ports: number[]; allowedRelays: Cidr[] }
    | { kind: 'throttle'; rateBps: number }
    | { kind: 'isolate' }
    | { kind: 'nic_down' };
}

/** A full desired snapshot, validated. */
export interface Desired {
  generation: bigint;
  issuedAt: Date | undefined;
  enforcements: EnforcementSpec[];
}

/**
 * What the host should look like, merged from all active enforcements: the
 * input every backend converges to. Pure data; the same plan applied twice
 * changes nothing the second time.
 */
export interface EnforcementPlan {
  /** Interfaces Cordon may restrict. */
  publicInterfaces: string[];
  /** Networks that stay reachable whatever else is enforced (management, controller). */
  managementNetworks: Cidr[];
  /** Outbound SMTP block, if any enforcement asks for one. */
  smtp: { ports: number[]; allowedRelays: Cidr[] } | undefined;
  /** Drop all public traffic but management. */
  isolate: boolean;
  /** Rate limit in bits/s on every public interface, both directions. */
  throttleBps: number | undefined;
  /** Public interfaces to hold link-down. */
  linksDown: string[];
}
