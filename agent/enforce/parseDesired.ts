import { CordonError } from '../../proto/runtime/CordonError.js';
import { parseCidr } from '../../proto/runtime/cidr.js';
import type { Desired, EnforcementSpec } from './plan.js';

/** Above this a "throttle" is no throttle and most likely a unit mistake. */
export const MAX_RATE_BPS = 100_000_000_000;
/** Below this a token bucket cannot hold one packet and would stop all traffic (see tcBackend). */
export const MIN_RATE_BPS = 8_000;

function fail(field: string, message: string): never {
  throw new CordonError('invalid', message, { field });
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** proto3 JSON parsers accept lowerCamelCase and the original snake_case names. */
function pick(obj: Obj, camel: string): unknown {
  const snake = camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return obj[camel] ?? obj[snake];
}

function checkKeys(obj: Obj, at: string, allowed: string[]): void {
  const snakes = allowed.map((k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key) && !snakes.includes(key)) {
      fail(at ? `${at}.${key}` : key, `unknown field; expected one of ${allowed.join(', ')}`);
    }
  }
}

/** uint64 in proto3 JSON is a decimal string; numbers are accepted too. */
function parseUint(value: unknown, field: string, what: string): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return BigInt(value);
  fail(field, `must be ${what}, got ${JSON.stringify(value)}`);
}

const KINDS = ['smtpBlock', 'throttle', 'isolate', 'nicDown'] as const;

function parseEnforcement(raw: unknown, at: string): EnforcementSpec {
  if (!isObj(raw)) fail(at, 'must be an object');
  checkKeys(raw, at, ['id', 'incidentId', 'reason', ...KINDS]);
  const text = (name: string): string => {
    const v = pick(raw, name);
    if (typeof v !== 'string' || v.trim() === '') fail(`${at}.${name}`, 'must be a non-empty string (every enforcement names its incident and reason)');
    return v;
  };
  const id = text('id');
  const incidentId = text('incidentId');
  const reason = text('reason');
  const present = KINDS.filter((k) => pick(raw, k) !== undefined);
  if (present.length !== 1) {
    fail(at, `must have exactly one action (${KINDS.join(', ')}), found ${present.length === 0 ? 'none' : present.join(' and ')}`);
  }
  const kind = present[0]!;
  const body = pick(raw, kind);
  const bodyAt = `${at}.${kind}`;
  if (!isObj(body)) fail(bodyAt, 'must be an object');
  switch (kind) {
    case 'smtpBlock': {
      checkKeys(body, bodyAt, ['ports', 'allowedRelays']);
      const ports = pick(body, 'ports') ?? [];
      if (!Array.isArray(ports)) fail(`${bodyAt}.ports`, 'must be a list of TCP ports');
      ports.forEach((p, i) => {
        if (!Number.isInteger(p) || (p as number) < 1 || (p as number) > 65535) fail(`${bodyAt}.ports[${i}]`, `must be a TCP port 1-65535, got ${JSON.stringify(p)}`);
      });
      const relays = pick(body, 'allowedRelays') ?? [];
      if (!Array.isArray(relays)) fail(`${bodyAt}.allowedRelays`, 'must be a list of addresses or CIDRs');
      const allowedRelays = relays.map((r, i) => {
        try {
          return parseCidr(String(r));
        } catch (err) {
          fail(`${bodyAt}.allowedRelays[${i}]`, (err as Error).message);
        }
      });
      return { id, incidentId, reason, action: { kind: 'smtp_block', ports: [...new Set(ports as number[])].sort((a, b) => a - b), allowedRelays } };
    }
    case 'throttle': {
      checkKeys(body, bodyAt, ['rateBps']);
      const raw = pick(body, 'rateBps');
      const rate = parseUint(raw, `${bodyAt}.rateBps`, 'a positive integer number of bits per second');
      if (rate < BigInt(MIN_RATE_BPS) || rate > BigInt(MAX_RATE_BPS)) {
        fail(`${bodyAt}.rateBps`, `must be between ${MIN_RATE_BPS} and ${MAX_RATE_BPS} bits per second, got ${rate}`);
      }
      return { id, incidentId, reason, action: { kind: 'throttle', rateBps: Number(rate) } };
    }
    case 'isolate':
      checkKeys(body, bodyAt, []);
      return { id, incidentId, reason, action: { kind: 'isolate' } };
    case 'nicDown':
      checkKeys(body, bodyAt, []);
      return { id, incidentId, reason, action: { kind: 'nic_down' } };
  }
}

/**
 * Validates a desired state in the proto3 JSON mapping of cordon.v1.DesiredState
 * (what `cordon-agent apply --state FILE` reads, and what a gRPC message is
 * turned into), naming the first field that is wrong and why.
 */
export function parseDesired(raw: unknown): Desired {
  if (!isObj(raw)) fail('state', 'must be a JSON object');
  checkKeys(raw, '', ['generation', 'enforcements', 'issuedAt']);
  const generation = parseUint(pick(raw, 'generation'), 'generation', 'a positive integer');
  if (generation === 0n) fail('generation', 'must be at least 1 (0 means "no state")');
  const issued = pick(raw, 'issuedAt');
  let issuedAt: Date | undefined;
  if (issued !== undefined) {
    issuedAt = new Date(String(issued));
    if (Number.isNaN(issuedAt.getTime())) fail('issuedAt', `must be an RFC 3339 time, got ${JSON.stringify(issued)}`);
  }
  const list = pick(raw, 'enforcements') ?? [];
  if (!Array.isArray(list)) fail('enforcements', 'must be a list');
  const enforcements = list.map((e, i) => parseEnforcement(e, `enforcements[${i}]`));
  const ids = new Set<string>();
  enforcements.forEach((e, i) => {
    if (ids.has(e.id)) fail(`enforcements[${i}].id`, `duplicate id ${JSON.stringify(e.id)}`);
    ids.add(e.id);
  });
  return { generation, issuedAt, enforcements };
}

/** Parses the text of a state file; broken JSON is an `invalid` error too. */
export function parseDesiredText(text: string, source: string): Desired {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CordonError('invalid', `${source} is not valid JSON: ${(err as Error).message}`, { field: 'state' });
  }
  return parseDesired(raw);
}

/** The proto3 JSON form of a validated state, for saving to disk. */
export function desiredToJson(d: Desired): unknown {
  return {
    generation: d.generation.toString(),
    ...(d.issuedAt ? { issuedAt: d.issuedAt.toISOString() } : {}),
    enforcements: d.enforcements.map((e) => {
      const base = { id: e.id, incidentId: e.incidentId, reason: e.reason };
      switch (e.action.kind) {
        case 'smtp_block':
          return { ...base, smtpBlock: { ports: e.action.ports, allowedRelays: e.action.allowedRelays.map((c) => c.text) } };
        case 'throttle':
          return { ...base, throttle: { rateBps: String(e.action.rateBps) } };
        case 'isolate':
          return { ...base, isolate: {} };
        case 'nic_down':
          return { ...base, nicDown: {} };
      }
    }),
  };
}
