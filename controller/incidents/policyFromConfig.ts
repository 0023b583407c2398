import { CordonError } from '../../proto/runtime/CordonError.js';
import { CATEGORIES, REPORTER_KINDS, type Action, type Category, type ReporterKind } from './model.js';
import { DEFAULT_POLICY, type CategoryPolicy, type FourEyesPolicy, type PolicyConfig } from './policy.js';

interface PolicySettings {
  trustedReporterKinds: string[];
  maxAutomaticPerHour: number;
  ladderStepHours: number;
  maxPlanDays?: number;
  recidivism: { incidents: number; windowDays: number; migrationDays: number };
  fourEyes?: FourEyesPolicy;
  categories: Record<string, unknown>;
  bmcFreshMinutes?: number;
}

function fail(field: string, message: string): never {
  throw new CordonError('invalid', message, { field });
}

function parseAction(raw: unknown, at: string): Action {
  const a = raw as { kind?: unknown; rateBps?: unknown; ports?: unknown };
  switch (a?.kind) {
    case 'smtp_block':
      if (a.ports !== undefined && (!Array.isArray(a.ports) || a.ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))) {
        fail(`${at}.ports`, 'must be a list of TCP ports');
      }
      return a.ports ? { kind: 'smtp_block', ports: a.ports as number[] } : { kind: 'smtp_block' };
    case 'throttle':
      if (!Number.isInteger(a.rateBps) || (a.rateBps as number) < 8_000) fail(`${at}.rateBps`, 'must be an integer of at least 8000 bits per second');
      return { kind: 'throttle', rateBps: a.rateBps as number };
    case 'isolate':
    case 'nic_down':
      return { kind: a.kind };
    default:
      return fail(`${at}.kind`, 'must be smtp_block, throttle, isolate or nic_down');
  }
}

/** The policy from config: the design's defaults with the configured overrides, every field checked. */
export function policyFromConfig(settings: PolicySettings): PolicyConfig {
  for (const [i, k] of settings.trustedReporterKinds.entries()) {
    if (!(REPORTER_KINDS as readonly string[]).includes(k)) fail(`policy.trustedReporterKinds[${i}]`, `unknown reporter kind ${k}`);
  }
  const categories = { ...DEFAULT_POLICY.categories } as Record<Category, CategoryPolicy>;
  for (const [name, raw] of Object.entries(settings.categories)) {
    const at = `policy.categories.${name}`;
    if (!(CATEGORIES as readonly string[]).includes(name)) fail(at, `unknown category; one of ${CATEGORIES.join(', ')}`);
    const o = raw as Partial<Record<keyof CategoryPolicy, unknown>>;
    const base = categories[name as Category];
    const hours = (key: 'ackHours' | 'resolveHours') => {
      const v = o[key] ?? base[key];
      if (typeof v !== 'number' || !(v > 0)) fail(`${at}.${key}`, 'must be a positive number of hours');
      return v;
    };
    const ladder = o.ladder === undefined ? base.ladder : Array.isArray(o.ladder) ? o.ladder.map((a, i) => parseAction(a, `${at}.ladder[${i}]`)) : fail(`${at}.ladder`, 'must be a list of actions');
    categories[name as Category] = {
      ackHours: hours('ackHours'),
      resolveHours: hours('resolveHours'),
      immediate: typeof o.immediate === 'boolean' ? o.immediate : base.immediate,
      ladder,
    };
  }
  return {
    categories,
    trustedReporterKinds: settings.trustedReporterKinds as ReporterKind[],
    maxAutomaticPerHour: settings.maxAutomaticPerHour,
    ladderStepHours: settings.ladderStepHours,
    maxPlanDays: settings.maxPlanDays ?? DEFAULT_POLICY.maxPlanDays,
    recidivism: settings.recidivism,
    fourEyes: settings.fourEyes ?? DEFAULT_POLICY.fourEyes,
    bmcFreshMinutes: settings.bmcFreshMinutes ?? DEFAULT_POLICY.bmcFreshMinutes,
  };
}
