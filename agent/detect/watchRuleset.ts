import { collapseCidrs, type Cidr } from '../../proto/runtime/cidr.js';

/** The agent's second table: it counts, it never drops or accepts anything (a separate table, so enforcement's transactions and fingerprints never see it). */
export const WATCH_TABLE = 'inet cordon_watch';

/** The dynamic sets the watcher reads and flushes each window (new connections). */
export const WATCH_SETS = ['smtp_v4', 'smtp_v6', 'fanout_v4', 'fanout_v6'] as const;

/** The flood detector's sets: emptied when its sampling starts, read when it ends (FloodGate), not per window. */
export const FLOOD_SETS = ['flood_v4', 'flood_v6'] as const;

/** Element limit of each dynamic set: beyond it the kernel adds no element, and a count saturates rather than grow memory. */
export const WATCH_SET_SIZE = 65_535;

/**
 * The flood detector counts one packet in this many, drawn at random by
 * the kernel (`numgen random`), and the watcher multiplies back. Adding
 * every packet's destination to the set cost 6 % of a 64-byte flood's rate
 * (BENCHMARKS §4); at the default threshold (20,000 a second) the 3 s that
 * FloodGate samples are still 3,750 samples per destination, so the
 * estimate is within about 2 % (one standard deviation).
 */
export const FLOOD_SAMPLE_ONE_IN = 16;

export interface WatchPlan {
  publicInterfaces: string[];
  /** Destinations never counted (the management networks stay out of every measure). */
  managementNetworks: Cidr[];
  smtpPorts: number[];
  fanoutPorts: number[];
  /** Keep the flood detector's sets and chain (its sampling rule is added only while FloodGate names destinations). */
  flood: boolean;
}

/** The rules of the output and forward hooks: new connections always; the flood sample only while `sampling`. */
function hookRules(plan: WatchPlan, sampling: boolean): string[] {
  const rules = ['tcp flags & (syn | ack) == syn oifname @public_ifs jump syn'];
  if (plan.flood && sampling) rules.push(`numgen random mod ${FLOOD_SAMPLE_ONE_IN} == 0 oifname @public_ifs jump flood`);
  return rules;
}

function elements(items: string[]): string {
  return items.length > 0 ? `\t\telements = { ${items.join(', ')} }\n` : '';
}

function addrSet(name: string, family: 4 | 6, cidrs: Cidr[]): string {
  const own = collapseCidrs(cidrs.filter((c) => c.family === family)).map((c) => c.text);
  return `\tset ${name} {\n\t\ttype ${family === 4 ? 'ipv4_addr' : 'ipv6_addr'}\n\t\tflags interval\n${elements(own)}\t}\n`;
}

function dynamicSet(name: string, family: 4 | 6): string {
  return `\tset ${name} {\n\t\ttype ${family === 4 ? 'ipv4_addr' : 'ipv6_addr'}\n\t\tsize ${WATCH_SET_SIZE}\n\t\tflags dynamic\n\t\tcounter\n\t}\n`;
}

/**
 * Renders `inet cordon_watch`. Pure (golden-tested). The connection rules
 * match the first packet of a new outbound TCP connection (a SYN without
 * ACK: by its flags, not by conntrack, which a host may not run and which
 * would cost a quarter of a small-packet flood's rate to turn on, BENCHMARKS
 * §4) leaving through a public interface (made on the host or forwarded for its VMs) and only adds its
 * destination to a set with a counter per element: how many new connections
 * to each SMTP destination, and how many distinct scan-port destinations
 * (with their connections), and, while the flood detector names
 * destinations (FloodGate, a few seconds at a time), one packet in
 * FLOOD_SAMPLE_ONE_IN with its bytes per destination. The hooks run at priority filter - 20, before Cordon's
 * own enforcement (filter - 10), so attempts that an SMTP block refuses are
 * still counted, and no rule here has a verdict: traffic passes as before.
 */
export function renderWatchTable(plan: WatchPlan): string {
  let out = `table ${WATCH_TABLE} {\n`;
  out += `\tset public_ifs {\n\t\ttype ifname\n${elements(plan.publicInterfaces.map((n) => JSON.stringify(n)))}\t}\n`;
  out += addrSet('mgmt_v4', 4, plan.managementNetworks);
  out += addrSet('mgmt_v6', 6, plan.managementNetworks);
  out += `\tset smtp_ports {\n\t\ttype inet_service\n${elements(plan.smtpPorts.map(String))}\t}\n`;
  out += `\tset fanout_ports {\n\t\ttype inet_service\n${elements(plan.fanoutPorts.map(String))}\t}\n`;
  out += dynamicSet('smtp_v4', 4) + dynamicSet('smtp_v6', 6) + dynamicSet('fanout_v4', 4) + dynamicSet('fanout_v6', 6);
  out += dynamicSet('flood_v4', 4) + dynamicSet('flood_v6', 6);
  // Per packet the hook asks only what is cheapest first: is it TCP with a SYN and no ACK (a UDP flood's packets
  // fail the protocol compare and go no further), and, with the flood detector on, is it the one packet in
  // FLOOD_SAMPLE_ONE_IN drawn; only then the public-interface lookup. Management destinations are left out in
  // chain syn, and by the watcher when it reads the flood set: an interval-set lookup on every packet cost 6 %
  // of a 64-byte flood's rate, a jump to a chain for every packet on a public interface 5-8 % (BENCHMARKS §4).
  out += '\tchain syn {\n';
  out += '\t\tip daddr @mgmt_v4 return\n\t\tip6 daddr @mgmt_v6 return\n';
  out += '\t\ttcp dport @smtp_ports add @smtp_v4 { ip daddr }\n';
  out += '\t\ttcp dport @smtp_ports add @smtp_v6 { ip6 daddr }\n';
  out += '\t\ttcp dport @fanout_ports add @fanout_v4 { ip daddr }\n';
  out += '\t\ttcp dport @fanout_ports add @fanout_v6 { ip6 daddr }\n';
  out += '\t}\n';
  if (plan.flood) out += '\tchain flood {\n\t\tadd @flood_v4 { ip daddr }\n\t\tadd @flood_v6 { ip6 daddr }\n\t}\n';
  const rules = hookRules(plan, false).map((r) => `\t\t${r}\n`);
  const hook = (name: string) => `\tchain ${name} {\n\t\ttype filter hook ${name} priority filter - 20; policy accept;\n${rules.join('')}\t}\n`;
  out += hook('output') + hook('forward');
  out += '}\n';
  return out;
}

/** Replaces the table in one nft transaction (or only removes it when `plan` is undefined). */
export function renderWatchTransaction(plan: WatchPlan | undefined): string {
  return `table ${WATCH_TABLE}\ndelete table ${WATCH_TABLE}\n${plan ? renderWatchTable(plan) : ''}`;
}

/** Empties the connection sets, for the next window. */
export function renderWatchFlush(): string {
  return WATCH_SETS.map((s) => `flush set ${WATCH_TABLE} ${s}\n`).join('');
}

/**
 * Turns the flood sample on or off in one nft transaction: both hooks' rules
 * are replaced (the connection sets keep their counts); turning it on also
 * empties the flood sets, so what they hold afterwards is this sampling's.
 */
export function renderFloodSampling(plan: WatchPlan, on: boolean): string {
  let out = on ? FLOOD_SETS.map((s) => `flush set ${WATCH_TABLE} ${s}\n`).join('') : '';
  for (const hook of ['output', 'forward']) {
    out += `flush chain ${WATCH_TABLE} ${hook}\n`;
    for (const r of hookRules(plan, on)) out += `add rule ${WATCH_TABLE} ${hook} ${r}\n`;
  }
  return out;
}
