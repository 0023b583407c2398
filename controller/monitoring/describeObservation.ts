import type { DetectionPolicy, Observation } from '../../proto/gen/cordon/v1/agent.js';
import { isIP } from 'node:net';

/** What each kind of observation counts, and the category its complaint gets. */
export const OBSERVATION_KINDS = {
  smtp: { category: 'spam', counts: 'new outbound connections to SMTP ports', per: 'new connections' },
  fanout: { category: 'scan', counts: 'distinct destinations of new outbound connections to scanning ports', per: 'new connections' },
  // The agent counts one packet in 16 (agent/detect/watchRuleset.ts FLOOD_SAMPLE_ONE_IN) and multiplies back.
  flood: { category: 'ddos', counts: 'packets (estimated from one packet in 16) to a single destination', per: 'packets, average size' },
} as const;

export type ObservationKind = keyof typeof OBSERVATION_KINDS;

/** Longest window an agent may claim, and how far in the future its end may lie (clock skew). */
const MAX_WINDOW_MS = 24 * 3600_000;
const MAX_SKEW_MS = 5 * 60_000;

/**
 * Why an agent's observation cannot be taken, or undefined. The agent is
 * authenticated, but its host's root can speak with its key: nothing in
 * the message is trusted beyond its own host, and every field that reaches
 * the complaint's text is checked here.
 */
export function observationProblem(o: Observation, now: Date): string | undefined {
  if (!(o.kind in OBSERVATION_KINDS)) return `kind ${JSON.stringify(o.kind.slice(0, 40))} is not one of ${Object.keys(OBSERVATION_KINDS).join(', ')}`;
  if (!o.windowStart || !o.windowEnd) return 'window_start and window_end are required';
  const span = o.windowEnd.getTime() - o.windowStart.getTime();
  if (!(span > 0 && span <= MAX_WINDOW_MS)) return `the window must be longer than 0 and at most 24 h, got ${span} ms`;
  if (o.windowEnd.getTime() > now.getTime() + MAX_SKEW_MS) return 'window_end lies in the future';
  if (!(o.count > o.threshold)) return `count ${o.count} does not pass threshold ${o.threshold}`;
  if (o.count > BigInt(Number.MAX_SAFE_INTEGER)) return 'count is out of range';
  if (o.top.length > 10) return `at most 10 destinations, got ${o.top.length}`;
  const tooBig = (n: bigint) => n > BigInt(Number.MAX_SAFE_INTEGER);
  const bad = o.top.find((d) => !isIP(d.address) || tooBig(d.connections) || tooBig(d.packets) || tooBig(d.bytes));
  if (bad) return `destination ${JSON.stringify(bad.address.slice(0, 60))} is not an address`;
  return undefined;
}

/**
 * Why an observation does not count against the host's own policy (the
 * controller's, not the threshold the agent says it used), or undefined:
 * detection or the kind's detector is off for the host, or the count does
 * not pass the host's threshold (for a flood, its packets per second over
 * the window, as the agent computes it). An agent still holding an older
 * policy, or one whose root lowered it, files nothing the host's policy
 * would not.
 */
export function thresholdProblem(o: Observation, p: DetectionPolicy): string | undefined {
  if (!p.enabled) return 'detection is off for this host';
  const seconds = Math.max((o.windowEnd!.getTime() - o.windowStart!.getTime()) / 1000, 1);
  const threshold = o.kind === 'smtp' ? p.smtpNewConnections : o.kind === 'fanout' ? p.fanoutDestinations : p.floodPacketsPerSecond > 0 ? Math.ceil(p.floodPacketsPerSecond * seconds) : 0;
  if (threshold === 0) return `the ${o.kind} detector is off for this host`;
  if (o.count <= BigInt(threshold)) return `count ${o.count} does not pass this host's threshold ${threshold}`;
  return undefined;
}

/** The complaint's evidence, in the words the customer is shown. */
export function describeObservation(hostId: string, o: Observation): string {
  const k = OBSERVATION_KINDS[o.kind as ObservationKind];
  const when = `between ${o.windowStart!.toISOString()} and ${o.windowEnd!.toISOString()}`;
  const each = (d: Observation['top'][number]) =>
    o.kind === 'flood' ? `${d.address} (${d.packets}, ${d.packets > 0n ? d.bytes / d.packets : 0n} bytes)` : `${d.address} (${d.connections})`;
  const top = o.top.map(each).join(', ');
  return [
    `Cordon's agent on ${hostId} counted ${o.count} ${k.counts} ${when}, over the threshold of ${o.threshold}.`,
    top ? `Busiest destinations (${k.per}): ${top}.` : '',
    'Measured on the server itself; no traffic was blocked by the measurement.',
  ]
    .filter(Boolean)
    .join('\n');
}
