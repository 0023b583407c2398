import { isIP } from 'node:net';
import { createHash } from 'node:crypto';
import { alertAuthentication, alertReporter, type AlertFiling } from './AlertFiling.js';
import { crowdsecCategory } from './crowdsecCategory.js';
import type { CrowdsecAlert } from './readCrowdsecAlerts.js';
import { clean } from './readJson.js';

/** Events quoted in the evidence at most; the raw alert keeps them all. */
const EVENTS_SHOWN = 10;

/**
 * One CrowdSec alert as a complaint from own monitoring (reporter
 * `crowdsec:<source id>`): about the alert's source address, the offender.
 * Only scope Ip names one address; a Range (or any other scope) is not one
 * server and is kept as needs_info, as is a scenario with no Cordon
 * category (crowdsecCategory). Pure.
 */
export function crowdsecFiling(a: CrowdsecAlert, source: { id: string; kind: 'crowdsec' }, trusted: boolean): AlertFiling {
  const scope = a.source.scope.toLowerCase();
  const address = a.source.ip ?? a.source.value;
  const ip = scope === 'ip' && address && isIP(address) ? address : undefined;
  const category = crowdsecCategory(a.scenario);
  const needsInfo =
    scope !== 'ip'
      ? `CrowdSec alert of scope ${a.source.scope} (${a.source.value ?? a.source.range ?? 'no value'}): not one address, so not one server; an operator decides`
      : !ip
        ? `CrowdSec alert of scope Ip names no valid address (${JSON.stringify(address ?? '')})`
        : !category
          ? `CrowdSec scenario ${a.scenario} has no Cordon category (controller/alerts/crowdsecCategory.ts); an operator decides`
          : undefined;
  const evidence = describeAlert(a, source.id);
  const raw = JSON.stringify(a.json, null, 2);
  const reporter = alertReporter(source);
  return {
    input: {
      ip: ip ?? '',
      category: category ?? 'other',
      reporter,
      reporterKind: 'own_monitoring',
      eventTime: a.stopAt ?? a.startAt,
      evidence,
      excerpt: evidence,
      raw,
      authentication: alertAuthentication(source, trusted, `CrowdSec scenario ${a.scenario} about ${address ?? 'no address'}`),
      // The same alert posted again (a retry of the plugin) is a duplicate, not a second complaint.
      messageId: `<crowdsec.${createHash('sha256').update(raw).digest('hex').slice(0, 32)}@${source.id}>`,
    },
    needsInfo,
  };
}

/** The alert in words, then its events' summary. */
export function describeAlert(a: CrowdsecAlert, sourceId: string): string {
  const s = a.source;
  const who = [s.asNumber ? `AS${s.asNumber}${s.asName ? ` ${clean(s.asName, 80)}` : ''}` : '', s.country ? `country ${clean(s.country, 8)}` : ''].filter(Boolean).join(', ');
  const when = a.startAt && a.stopAt ? ` from ${a.startAt.toISOString()} to ${a.stopAt.toISOString()}` : a.stopAt || a.startAt ? ` at ${(a.stopAt ?? a.startAt)!.toISOString()}` : '';
  const lines = [
    `CrowdSec (source ${sourceId}${a.machineId ? `, machine ${clean(a.machineId, 80)}` : ''}) raised scenario ${clean(a.scenario, 120)}${a.simulated ? ' (in simulation mode)' : ''} ` +
      `against ${s.scope} ${clean(s.ip ?? s.value ?? s.range ?? '?', 64)}${who ? ` (${who})` : ''}: ${a.eventsCount ?? a.events.length} event(s)${when} (UTC).`,
  ];
  if (a.message) lines.push(`CrowdSec said: ${clean(a.message, 400)}`);
  if (a.decisions.length > 0) lines.push(`Its decisions: ${a.decisions.slice(0, 5).map((d) => `${clean(d.type, 20)} ${clean(d.duration, 20)} on ${clean(d.scope, 20)} ${clean(d.value, 64)} (${clean(d.origin, 20)})`).join('; ')}.`);
  if (a.events.length > 0) {
    lines.push(`Events (${Math.min(EVENTS_SHOWN, a.events.length)} of ${a.events.length} shown):`);
    for (const e of a.events.slice(0, EVENTS_SHOWN)) lines.push(`  ${e.at ? clean(e.at, 40) : '(no time)'} ${e.meta.join(' ')}`);
  }
  return lines.join('\n');
}
