import { collapseCidrs, type Cidr } from '../../proto/runtime/cidr.js';
import type { GuardService } from './guardPolicy.js';

/**
 * The agent's third table: brute-force bans for customers who took managed
 * security. Its own table, so the enforcement table's transactions and
 * fingerprints and the watch table's counting never see it, and a customer's
 * own rules are never touched.
 */
export const GUARD_TABLE = 'inet cordon_guard';

/** Meter entries stay this long after a source's last new connection (one minute of rate, plus slack). */
export const METER_TIMEOUT_S = 120;
/** Sources a meter tracks at once per service and family: beyond it the kernel adds none, and no new source is banned by that meter. */
export const METER_SIZE = 65_535;

/** A ban the table must hold: the address and how many seconds it has left. */
export interface HeldBan {
  address: string;
  family: 4 | 6;
  seconds: number;
}

export interface GuardPlan {
  publicInterfaces: string[];
  /** Sources never banned: the management networks, the controller, the policy's allowed sources. */
  never: Cidr[];
  services: GuardService[];
  /** The kernel's own bans last this long, until the agent sets each one's grown time. */
  baseBanSeconds: number;
  maxBans: number;
  bans: HeldBan[];
  /**
   * Count a new connection when its handshake completes (the client's ACK
   * after the server's SYN-ACK, by conntrack's packet count: accounting must
   * be on) rather than at its SYN. A spoofed source never sees the SYN-ACK,
   * so it cannot complete a handshake and cannot get an address banned.
   */
  countHandshakes: boolean;
}

/** The meter set of a service and family. */
export const meterSet = (service: string, family: 4 | 6) => `m_${service}_v${family}`;
export const banSet = (family: 4 | 6) => `ban_v${family}`;

const elements = (items: string[]) => (items.length > 0 ? `\t\telements = { ${items.join(', ')} }\n` : '');

function neverSet(family: 4 | 6, cidrs: Cidr[]): string {
  const own = collapseCidrs(cidrs.filter((c) => c.family === family)).map((c) => c.text);
  return `\tset never_v${family} {\n\t\ttype ${family === 4 ? 'ipv4_addr' : 'ipv6_addr'}\n\t\tflags interval\n${elements(own)}\t}\n`;
}

function timeoutSet(name: string, family: 4 | 6, size: number, timeout: number, items: string[] = []): string {
  return `\tset ${name} {\n\t\ttype ${family === 4 ? 'ipv4_addr' : 'ipv6_addr'}\n\t\tsize ${size}\n\t\tflags dynamic,timeout\n\t\ttimeout ${timeout}s\n${elements(items)}\t}\n`;
}

/**
 * Renders `inet cordon_guard`. Pure (golden-tested). On the public
 * interfaces' input (the host's own services; traffic it forwards to VMs is
 * not guarded), a banned source is refused (TCP reset, everything else
 * dropped); a new connection to a guarded port (its completed handshake:
 * a bare ACK from the client that is the second packet conntrack counted
 * in its direction, or, with `countHandshakes` off, its SYN by flags)
 * updates the source's meter for that service, and
 * a source over the meter's rate is added to the ban set at once, by the
 * kernel, for the base time: the agent reads the set every tick and sets the
 * grown time. A never-ban source is checked before any meter, so it is never
 * counted or added. Hooked at filter - 15: after the watch table (- 20),
 * before enforcement (- 10).
 */
export function renderGuardTable(plan: GuardPlan): string {
  let out = `table ${GUARD_TABLE} {\n`;
  out += `\tset public_ifs {\n\t\ttype ifname\n${elements(plan.publicInterfaces.map((n) => JSON.stringify(n)))}\t}\n`;
  out += neverSet(4, plan.never) + neverSet(6, plan.never);
  for (const family of [4, 6] as const) {
    const held = plan.bans.filter((b) => b.family === family).slice(0, plan.maxBans);
    out += timeoutSet(banSet(family), family, plan.maxBans, plan.baseBanSeconds, held.map((b) => `${b.address} timeout ${Math.max(1, Math.ceil(b.seconds))}s`));
  }
  for (const s of plan.services) out += timeoutSet(meterSet(s.name, 4), 4, METER_SIZE, METER_TIMEOUT_S) + timeoutSet(meterSet(s.name, 6), 6, METER_SIZE, METER_TIMEOUT_S);
  out += '\tchain conn_in {\n\t\tip saddr @never_v4 return\n\t\tip6 saddr @never_v6 return\n';
  for (const s of plan.services) {
    const ports = `{ ${s.ports.join(', ')} }`;
    const rate = `limit rate over ${s.perMinute}/minute burst ${s.burst} packets`;
    out += `\t\ttcp dport ${ports} update @${meterSet(s.name, 4)} { ip saddr ${rate} } add @ban_v4 { ip saddr }\n`;
    out += `\t\ttcp dport ${ports} update @${meterSet(s.name, 6)} { ip6 saddr ${rate} } add @ban_v6 { ip6 saddr }\n`;
  }
  out += '\t}\n';
  // One lookup of the ban set per packet, not one per verdict: every packet from a public interface pays it.
  out += '\tchain refuse {\n\t\tmeta l4proto tcp reject with tcp reset\n\t\tdrop\n\t}\n';
  out += '\tchain from_public {\n';
  out += '\t\tip saddr @ban_v4 goto refuse\n\t\tip6 saddr @ban_v6 goto refuse\n';
  // The cheapest question first: the flags, then (handshakes) the direction and conntrack's count. A SYN that
  // was sent again makes the ACK the third packet: that connection goes uncounted, never counted twice.
  out += plan.countHandshakes
    ? '\t\ttcp flags & (syn | ack | fin | rst) == ack ct direction original ct original packets 2 jump conn_in\n'
    : '\t\ttcp flags & (syn | ack) == syn jump conn_in\n';
  out += '\t}\n';
  out += '\tchain input {\n\t\ttype filter hook input priority filter - 15; policy accept;\n\t\tiifname @public_ifs jump from_public\n\t}\n';
  out += '}\n';
  return out;
}

/** Replaces the table in one nft transaction (or only removes it when `plan` is undefined). */
export function renderGuardTransaction(plan: GuardPlan | undefined): string {
  return `table ${GUARD_TABLE}\ndelete table ${GUARD_TABLE}\n${plan ? renderGuardTable(plan) : ''}`;
}

/** Sets a ban's time (the kernel placed it for the base time): delete and add in one transaction, so it is never out of the set. */
export function renderBanTime(ban: HeldBan): string {
  const set = `${GUARD_TABLE} ${banSet(ban.family)}`;
  return `delete element ${set} { ${ban.address} }\nadd element ${set} { ${ban.address} timeout ${Math.max(1, Math.ceil(ban.seconds))}s }\n`;
}

/** Adds bans back (a tick found them gone from the set before their time). `add` of an element already there is no error. */
export function renderAddBans(bans: HeldBan[]): string {
  return bans.map((b) => `add element ${GUARD_TABLE} ${banSet(b.family)} { ${b.address} timeout ${Math.max(1, Math.ceil(b.seconds))}s }\n`).join('');
}

/** Removes bans (a lift, a source now allowed). Deleting an element that is gone fails the transaction, so callers pass only listed ones. */
export function renderRemoveBans(bans: Pick<HeldBan, 'address' | 'family'>[]): string {
  return bans.map((b) => `delete element ${GUARD_TABLE} ${banSet(b.family)} { ${b.address} }\n`).join('');
}
