import { DetectionPolicy } from '../../proto/gen/cordon/v1/agent.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { HOST_ID_PATTERN } from '../../proto/runtime/peerIdentity.js';
import type { DetectionOverride, DetectionSettings } from './effectiveDetection.js';

/** The config's `detection` section, as config.ts holds it. */
export interface DetectionConfig {
  enabled: boolean;
  windowSeconds: number;
  smtp: { ports: number[]; newConnections: number };
  fanout: { ports: number[]; destinations: number };
  flood: { packetsPerSecond: number; maxAverageBytes: number };
  minIntervalSeconds: number;
  /** Overrides by host id and by customer id, each a part of the section above (checked here). */
  hosts?: Record<string, unknown>;
  customers?: Record<string, unknown>;
}

/** The largest count the agent's policy carries (a proto uint32). */
const UINT32_MAX = 4_294_967_295;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const PORTS = (v: unknown) => (Array.isArray(v) && v.length > 0 && v.every((p) => isInt(p) && p >= 1 && p <= 65_535) ? undefined : 'must be a non-empty list of TCP ports (1-65535)');
const NAT = (v: unknown) => (isInt(v) && v >= 0 && v <= UINT32_MAX ? undefined : `must be a non-negative integer (at most ${UINT32_MAX}); 0 turns the detector off`);
const POSITIVE = (v: unknown) => (isInt(v) && v > 0 && v <= UINT32_MAX ? undefined : `must be a positive integer (at most ${UINT32_MAX})`);
const BOOLEAN = (v: unknown) => (typeof v === 'boolean' ? undefined : 'must be true or false (a JSON boolean)');

/** Each key an override may hold (the fleet's keys, same checks), and the policy field it sets. */
const OVERRIDE_KEYS: Record<string, { check: (v: unknown) => string | undefined; set: (o: DetectionOverride, v: never) => void }> = {
  enabled: { check: BOOLEAN, set: (o, v: boolean) => (o.enabled = v) },
  windowSeconds: { check: POSITIVE, set: (o, v: number) => (o.windowSeconds = v) },
  'smtp.ports': { check: PORTS, set: (o, v: number[]) => (o.smtpPorts = v) },
  'smtp.newConnections': { check: NAT, set: (o, v: number) => (o.smtpNewConnections = v) },
  'fanout.ports': { check: PORTS, set: (o, v: number[]) => (o.fanoutPorts = v) },
  'fanout.destinations': { check: NAT, set: (o, v: number) => (o.fanoutDestinations = v) },
  'flood.packetsPerSecond': { check: NAT, set: (o, v: number) => (o.floodPacketsPerSecond = v) },
  'flood.maxAverageBytes': { check: POSITIVE, set: (o, v: number) => (o.floodMaxAverageBytes = v) },
  minIntervalSeconds: { check: POSITIVE, set: (o, v: number) => (o.minIntervalMs = v * 1000) },
};
const GROUPS = new Set(['smtp', 'fanout', 'flood']);
/** The inventory takes any non-empty customer id; this only keeps out an empty one and control characters. */
const CUSTOMER_ID = /^[^\u0000-\u001f]{1,200}$/;
const KEY_LIST = Object.keys(OVERRIDE_KEYS).join(', ');

const fail = (field: string, message: string): never => {
  throw new CordonError('invalid', message, { field });
};
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * One override (`detection.hosts.<id>` or `detection.customers.<id>`): a
 * part of the detection section, every key checked as the fleet's is.
 * Throws an `invalid` CordonError naming the full key path.
 */
export function parseDetectionOverride(raw: unknown, at: string): DetectionOverride {
  if (!isObject(raw)) return fail(at, `must be an object of detection keys (${KEY_LIST})`);
  const out: DetectionOverride = {};
  const take = (path: string, value: unknown) => {
    const key = OVERRIDE_KEYS[path];
    if (!key) return fail(`${at}.${path}`, `is not a detection key that can be overridden (${KEY_LIST})`);
    const problem = key.check(value);
    if (problem) fail(`${at}.${path}`, problem);
    key.set(out, value as never);
  };
  for (const [k, v] of Object.entries(raw)) {
    if (!GROUPS.has(k)) {
      take(k, v);
      continue;
    }
    if (!isObject(v)) fail(`${at}.${k}`, `must be an object (${KEY_LIST.split(', ').filter((p) => p.startsWith(`${k}.`)).join(', ')})`);
    for (const [sub, value] of Object.entries(v as Record<string, unknown>)) take(`${k}.${sub}`, value);
  }
  return out;
}

function parseOverrides(raw: Record<string, unknown> | undefined, at: string, id: RegExp, what: string): Map<string, DetectionOverride> {
  const out = new Map<string, DetectionOverride>();
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (!id.test(key)) fail(`${at}.${key}`, `is not a ${what} id (${id})`);
    out.set(key, parseDetectionOverride(value, `${at}.${key}`));
  }
  return out;
}

/** What agents are sent when detection is off everywhere: they count nothing and keep no watch table. */
export const DETECTION_OFF: DetectionPolicy = Object.freeze(DetectionPolicy.fromPartial({ enabled: false }));

/**
 * The config's `detection` section as the controller uses it: the fleet's
 * policy and the overrides, each checked (an `invalid` CordonError naming
 * the full key path). Undefined when detection is off for the fleet and no
 * override turns it on anywhere: every agent is then sent DETECTION_OFF.
 */
export function detectionFromConfig(d: DetectionConfig): DetectionSettings | undefined {
  const hosts = parseOverrides(d.hosts, 'detection.hosts', HOST_ID_PATTERN, 'host');
  const customers = parseOverrides(d.customers, 'detection.customers', CUSTOMER_ID, 'customer');
  const anywhere = d.enabled || [...hosts.values(), ...customers.values()].some((o) => o.enabled === true);
  if (!anywhere) return undefined;
  const policy: DetectionPolicy = {
    enabled: d.enabled,
    windowSeconds: d.windowSeconds,
    smtpPorts: d.smtp.ports,
    smtpNewConnections: d.smtp.newConnections,
    fanoutPorts: d.fanout.ports,
    fanoutDestinations: d.fanout.destinations,
    floodPacketsPerSecond: d.flood.packetsPerSecond,
    floodMaxAverageBytes: d.flood.maxAverageBytes,
  };
  return { policy, minIntervalMs: d.minIntervalSeconds * 1000, hosts, customers };
}
