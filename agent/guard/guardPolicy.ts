import type { ManagedSecurity } from '../../proto/gen-messages/cordon/v1/agent.js';
import { parseCidr, type Cidr } from '../../proto/runtime/cidr.js';

/** One guarded service as the guard applies it. */
export interface GuardService {
  name: string;
  ports: number[];
  perMinute: number;
  burst: number;
}

/** The controller's ManagedSecurity as the agent will apply it (see activeGuardPolicy). */
export interface GuardPolicy {
  services: GuardService[];
  baseBanSeconds: number;
  maxBanSeconds: number;
  forgetAfterSeconds: number;
  /** The policy's allowed sources (the agent's management networks are added where the table is made). */
  allowed: Cidr[];
  maxBans: number;
  /** Failed authentications in the journal within authWindowSeconds that ban a source; 0: the journal is not read. */
  authFailures: number;
  authWindowSeconds: number;
}

/** Kernel set size per family when the controller names none. */
export const DEFAULT_MAX_BANS = 10_000;
/** Most bans per family the agent holds, whatever the policy asks: the state file and each tick's listing stay small. */
export const MAX_BANS_LIMIT = 65_535;
/** Longest ban (a year): nft takes far longer timeouts, but nothing should outlive a forgotten host's customer. */
export const MAX_BAN_SECONDS = 365 * 86_400;
export const MAX_SERVICES = 16;
const NAME = /^[a-z][a-z0-9]{0,15}$/;

/**
 * The policy as the agent applies it, or undefined when it guards nothing.
 * Lenient by design, because a bad policy must never leave the host with a
 * table nft refuses: a service with a bad name, no valid port or no rate is
 * left out, an allowed entry that is not an address or CIDR is left out (and
 * named in `dropped`), times are held to [1 s, 1 year], the ban set to
 * [1, 65535]. The controller validates its config strictly before sending.
 */
export function activeGuardPolicy(p: ManagedSecurity | undefined, dropped: string[] = []): GuardPolicy | undefined {
  if (!p?.enabled) return undefined;
  const seen = new Set<string>();
  const services: GuardService[] = [];
  for (const s of p.services) {
    const ports = [...new Set(s.ports.filter((x) => Number.isInteger(x) && x >= 1 && x <= 65_535))].sort((a, b) => a - b);
    if (!NAME.test(s.name) || seen.has(s.name) || ports.length === 0 || !(s.newConnectionsPerMinute > 0)) {
      dropped.push(`services[${s.name}]`);
      continue;
    }
    seen.add(s.name);
    services.push({ name: s.name, ports, perMinute: Math.min(s.newConnectionsPerMinute, 1_000_000), burst: Math.min(Math.max(s.burst, 1), 1_000_000) });
    if (services.length === MAX_SERVICES) break;
  }
  const authFailures = Math.min(Math.max(Math.floor(p.authFailures) || 0, 0), 1000);
  if (services.length === 0 && authFailures === 0) return undefined;
  const allowed: Cidr[] = [];
  for (const a of p.allowed) {
    try {
      allowed.push(parseCidr(a));
    } catch {
      dropped.push(`allowed[${a}]`);
    }
  }
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(Math.floor(v) || lo, lo), hi);
  const baseBanSeconds = clamp(p.baseBanSeconds, 1, MAX_BAN_SECONDS);
  return {
    services,
    baseBanSeconds,
    maxBanSeconds: clamp(Math.max(p.maxBanSeconds, baseBanSeconds), baseBanSeconds, MAX_BAN_SECONDS),
    forgetAfterSeconds: clamp(p.forgetAfterSeconds, 1, 10 * MAX_BAN_SECONDS),
    allowed,
    maxBans: p.maxBans > 0 ? Math.min(p.maxBans, MAX_BANS_LIMIT) : DEFAULT_MAX_BANS,
    authFailures,
    authWindowSeconds: clamp(p.authWindowSeconds, 1, 86_400),
  };
}
