import { createHash } from 'node:crypto';
import type { Category } from '../incidents/model.js';
import { alertAuthentication, alertReporter, type AlertFiling } from './AlertFiling.js';
import type { FastnetmonNotice } from './readFastnetmonNotice.js';
import { clean } from './readJson.js';

/**
 * FastNetMon attack type (its `Attack type:` detail) → Cordon category.
 * Every flood it names is a denial of service sent by our host; `unknown`
 * (a volume over a threshold that FastNetMon could not classify: a busy
 * server may look like that) and anything else is kept as needs_info.
 *
 * | attack type              | category |
 * |--------------------------|----------|
 * | syn_flood                | ddos     |
 * | udp_flood                | ddos     |
 * | icmp_flood               | ddos     |
 * | ip_fragmentation_flood   | ddos     |
 * | unknown, anything else   | (none) → needs_info |
 */
export const FASTNETMON_CATEGORIES: Readonly<Record<string, Category>> = {
  syn_flood: 'ddos',
  udp_flood: 'ddos',
  icmp_flood: 'ddos',
  ip_fragmentation_flood: 'ddos',
};

/** What a notice becomes: a filing, or nothing and why (not outgoing, not a ban). */
export type FastnetmonOutcome = { file: AlertFiling } | { ignored: string };

/**
 * One FastNetMon notice as a complaint from own monitoring (reporter
 * `fastnetmon:<source id>`) about the host it names, but ONLY when that
 * host is the attack's source (direction `outgoing`) and FastNetMon bans
 * it. An `incoming` attack makes our host the victim: never a complaint
 * against it. `unban` and `attack_details` file nothing. Pure.
 */
export function fastnetmonOutcome(n: FastnetmonNotice, source: { id: string; kind: 'fastnetmon' }, trusted: boolean, receivedAt: Date): FastnetmonOutcome {
  if (n.direction !== 'outgoing') return { ignored: `direction ${n.direction}: ${n.ip} is not the source of the attack (only outgoing is a complaint against our host)` };
  if (n.action !== 'ban') return { ignored: `action ${n.action}: only a ban is filed` };
  const type = (n.facts.get('attack type') ?? '').toLowerCase();
  const category = FASTNETMON_CATEGORIES[type];
  const evidence = describeNotice(n, source.id);
  const raw = JSON.stringify({ ip: n.ip, direction: n.direction, pps: n.pps ?? null, action: n.action, details: n.details }, null, 2);
  return {
    file: {
      input: {
        ip: n.ip,
        category: category ?? 'other',
        reporter: alertReporter(source),
        reporterKind: 'own_monitoring',
        // FastNetMon runs the script as it detects the attack; its details carry no time of their own,
        // so the time is our receipt, marked so that no one reads it as a time the alert states.
        eventTime: receivedAt,
        eventTimeSource: 'receipt',
        evidence,
        excerpt: evidence,
        raw,
        authentication: alertAuthentication(source, trusted, `FastNetMon ${type || 'attack'} sent by ${n.ip}`),
        messageId: `<fastnetmon.${createHash('sha256').update(raw).digest('hex').slice(0, 32)}@${source.id}>`,
      },
      needsInfo: category ? undefined : `FastNetMon attack type ${JSON.stringify(type || '(none given)')} has no Cordon category (controller/alerts/fastnetmonFiling.ts); an operator decides`,
    },
  };
}

/** The notice in words: who sent what, how hard, then the details' figures. */
function describeNotice(n: FastnetmonNotice, sourceId: string): string {
  const f = (k: string) => (n.facts.has(k) ? clean(n.facts.get(k)!, 120) : undefined);
  const lines = [
    `FastNetMon (source ${sourceId}) saw ${n.ip} send an attack (direction outgoing)${f('attack type') ? ` of type ${f('attack type')}` : ''}` +
      `${f('attack protocol') ? ` over ${f('attack protocol')}` : ''} at ${n.pps ?? '?'} packets per second, and banned it.`,
  ];
  const figures = ['initial attack power', 'peak attack power', 'total outgoing traffic', 'total outgoing pps', 'total outgoing flows', 'outgoing syn tcp pps', 'outgoing udp pps', 'outgoing icmp pps', 'outgoing ip fragmented pps', 'average outgoing pps'];
  for (const k of figures) if (f(k)) lines.push(`  ${k}: ${f(k)}`);
  if (n.details === '') lines.push('FastNetMon passed no details (notify_script_pass_details off?).');
  return lines.join('\n');
}
