import { collapseCidrs, type Cidr } from '../../proto/runtime/cidr.js';
import type { EnforcementPlan } from '../enforce/plan.js';

/** The one nftables table Cordon owns; it never touches any other. */
export const TABLE = 'inet cordon';

/** Rule comments mark which enforcement a rule serves, so observe() can verify it. */
export const RULE_COMMENT = { isolate: 'cordon:isolate', smtp: 'cordon:smtp_block' } as const;

function elements(items: string[]): string {
  return items.length > 0 ? `\t\telements = { ${items.join(', ')} }\n` : '';
}

function addrSet(name: string, family: 4 | 6, cidrs: Cidr[]): string {
  const own = collapseCidrs(cidrs.filter((c) => c.family === family)).map((c) => c.text);
  return `\tset ${name} {\n\t\ttype ${family === 4 ? 'ipv4_addr' : 'ipv6_addr'}\n\t\tflags interval\n${elements(own)}\t}\n`;
}

/** Whether the plan needs the nftables table at all. */
export function needsTable(plan: EnforcementPlan): boolean {
  return plan.isolate || plan.smtp !== undefined;
}

/**
 * Renders the `inet cordon` table for a plan. Pure: the same plan always gives
 * the same text (golden-tested). Addresses and ports live in sets, so rule
 * evaluation costs the same with 10 or 10,000 entries.
 *
 * Traffic leaving through a public interface (locally made or forwarded for
 * containers and VMs) goes through `egress`; traffic arriving on one through
 * `ingress`. Management networks are accepted first, whatever else applies.
 * SMTP is rejected with a TCP reset so the customer's MTA sees "connection
 * refused" at once and queues, instead of hanging on a silent drop.
 */
export function renderTable(plan: EnforcementPlan): string {
  const ifaces = plan.publicInterfaces.map((n) => JSON.stringify(n));
  let out = `table ${TABLE} {\n`;
  out += `\tset public_ifs {\n\t\ttype ifname\n${elements(ifaces)}\t}\n`;
  out += addrSet('mgmt_v4', 4, plan.managementNetworks);
  out += addrSet('mgmt_v6', 6, plan.managementNetworks);
  if (plan.smtp) {
    out += `\tset smtp_ports {\n\t\ttype inet_service\n${elements(plan.smtp.ports.map(String))}\t}\n`;
    out += addrSet('smtp_relays_v4', 4, plan.smtp.allowedRelays);
    out += addrSet('smtp_relays_v6', 6, plan.smtp.allowedRelays);
  }

  out += '\tchain egress {\n';
  out += '\t\tip daddr @mgmt_v4 accept\n\t\tip6 daddr @mgmt_v6 accept\n';
  if (plan.isolate) out += `\t\tcounter drop comment "${RULE_COMMENT.isolate}"\n`;
  if (plan.smtp) {
    out += '\t\ttcp dport @smtp_ports ip daddr @smtp_relays_v4 accept\n';
    out += '\t\ttcp dport @smtp_ports ip6 daddr @smtp_relays_v6 accept\n';
    out += `\t\ttcp dport @smtp_ports counter reject with tcp reset comment "${RULE_COMMENT.smtp}"\n`;
  }
  out += '\t}\n';

  if (plan.isolate) {
    out += '\tchain ingress {\n';
    out += '\t\tip saddr @mgmt_v4 accept\n\t\tip6 saddr @mgmt_v6 accept\n';
    out += `\t\tcounter drop comment "${RULE_COMMENT.isolate}"\n`;
    out += '\t}\n';
  }

  // Priority filter - 10: Cordon's drops are seen before the host's own
  // filter chains, and an accept here never overrides a drop elsewhere.
  const hook = (name: string, rules: string[]) =>
    `\tchain ${name} {\n\t\ttype filter hook ${name} priority filter - 10; policy accept;\n${rules.map((r) => `\t\t${r}\n`).join('')}\t}\n`;
  out += hook('output', ['oifname @public_ifs jump egress']);
  out += hook('forward', ['oifname @public_ifs jump egress', ...(plan.isolate ? ['iifname @public_ifs jump ingress'] : [])]);
  if (plan.isolate) out += hook('input', ['iifname @public_ifs jump ingress']);
  out += '}\n';
  return out;
}

/**
 * The whole change as one `nft -f` transaction: create the table if missing,
 * delete it, and (when the plan needs it) define it anew. nft applies a file
 * atomically, so there is no moment without rules, and no other table is named.
 */
export function renderTransaction(plan: EnforcementPlan): string {
  return `table ${TABLE}\ndelete table ${TABLE}\n${needsTable(plan) ? renderTable(plan) : ''}`;
}
