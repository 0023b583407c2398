import { CordonError } from '../../proto/runtime/CordonError.js';
import { clean, count, list, object, string, time, type Json } from './readJson.js';

/** At most this many alerts in one notification (the http plugin groups what its `group_threshold` lets through). */
export const MAX_CROWDSEC_ALERTS = 1000;
const MAX_EVENTS = 1000;

/** What Cordon reads of one CrowdSec alert (models.Alert of the Local API). */
export interface CrowdsecAlert {
  scenario: string;
  source: { scope: string; ip: string | undefined; value: string | undefined; range: string | undefined; asNumber: string | undefined; asName: string | undefined; country: string | undefined };
  eventsCount: number | undefined;
  startAt: Date | undefined;
  stopAt: Date | undefined;
  message: string | undefined;
  machineId: string | undefined;
  simulated: boolean;
  decisions: { type: string; duration: string; scope: string; value: string; origin: string }[];
  /** Each event's time and its meta as `key=value` pairs. */
  events: { at: string | undefined; meta: string[] }[];
  /** The alert as it came, for the complaint's raw record. */
  json: Json;
}

/**
 * Reads the body the CrowdSec http notification plugin posts with its
 * default format (`{{.|toJson}}`: a JSON list of alerts). Throws an
 * `invalid` CordonError naming the first bad field (`[0].source.scope`).
 */
export function readCrowdsecAlerts(body: unknown): CrowdsecAlert[] {
  if (!Array.isArray(body)) throw new CordonError('invalid', 'must be a JSON list of CrowdSec alerts (the http plugin\'s format {{.|toJson}})', { field: 'body' });
  if (body.length > MAX_CROWDSEC_ALERTS) throw new CordonError('invalid', `more than ${MAX_CROWDSEC_ALERTS} alerts`, { field: 'body' });
  return body.map((raw, i) => readAlert(raw, `[${i}]`));
}

function readAlert(raw: unknown, at: string): CrowdsecAlert {
  const a = object(raw, at);
  const src = object(a.source, `${at}.source`);
  const s = `${at}.source`;
  const decisions = list(a, 'decisions', at, MAX_EVENTS).map((d, j) => {
    const o = object(d, `${at}.decisions[${j}]`);
    const f = `${at}.decisions[${j}]`;
    return { type: string(o, 'type', f, { max: 64 }) ?? '', duration: string(o, 'duration', f, { max: 64 }) ?? '', scope: string(o, 'scope', f, { max: 64 }) ?? '', value: string(o, 'value', f, { max: 256 }) ?? '', origin: string(o, 'origin', f, { max: 64 }) ?? '' };
  });
  const events = list(a, 'events', at, MAX_EVENTS).map((e, j) => {
    const o = object(e, `${at}.events[${j}]`);
    const meta = list(o, 'meta', `${at}.events[${j}]`, 100).map((m, k) => {
      const kv = object(m, `${at}.events[${j}].meta[${k}]`);
      return `${clean(String(kv.key ?? ''), 40)}=${clean(String(kv.value ?? ''), 120)}`;
    });
    return { at: string(o, 'timestamp', `${at}.events[${j}]`, { max: 64 }), meta };
  });
  if (a.simulated !== undefined && a.simulated !== null && typeof a.simulated !== 'boolean') throw new CordonError('invalid', 'must be true or false', { field: `${at}.simulated` });
  return {
    scenario: string(a, 'scenario', at, { required: true, max: 256 })!,
    source: {
      scope: string(src, 'scope', s, { required: true, max: 64 })!,
      ip: string(src, 'ip', s, { max: 64 }),
      value: string(src, 'value', s, { max: 256 }),
      range: string(src, 'range', s, { max: 64 }),
      asNumber: string(src, 'as_number', s, { max: 32 }),
      asName: string(src, 'as_name', s, { max: 256 }),
      country: string(src, 'cn', s, { max: 8 }),
    },
    eventsCount: count(a, 'events_count', at),
    startAt: time(a, 'start_at', at),
    stopAt: time(a, 'stop_at', at),
    message: string(a, 'message', at, { max: 4096 }),
    machineId: string(a, 'machine_id', at, { max: 256 }),
    simulated: a.simulated === true,
    decisions,
    events,
    json: a,
  };
}
