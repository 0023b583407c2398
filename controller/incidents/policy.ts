import type { Action, Category, ReporterKind } from './model.js';

/** What the desk does for one category. */
export interface CategoryPolicy {
  /** Hours the customer has to acknowledge after the notice. */
  ackHours: number;
  /** Hours the customer has to fix, show a false positive, or give a plan. */
  resolveHours: number;
  /** Escalate at intake when a trusted reporter sends it (the customer is still notified). */
  immediate: boolean;
  /** The actions, in order; empty means an operator decides (nothing automatic). */
  ladder: Action[];
}

export interface PolicyConfig {
  categories: Record<Category, CategoryPolicy>;
  /** Only complaints from these may lead to automatic enforcement. */
  trustedReporterKinds: ReporterKind[];
  /** Fleet-wide cap of automatic enforcements per rolling hour; the rest wait for an operator. */
  maxAutomaticPerHour: number;
  /** Hours an enforced, still unanswered incident waits before the next rung of its ladder. */
  ladderStepHours: number;
  /** The latest due date a customer's plan may name, in days from when it is given. */
  maxPlanDays: number;
  recidivism: { incidents: number; windowDays: number; migrationDays: number };
  /** A BMC check older than this does not count as "the console answers" before a cut. */
  bmcFreshMinutes: number;
  /** When an operator's action needs a second operator (see fourEyes.ts). */
  fourEyes: FourEyesPolicy;
}

export interface FourEyesPolicy {
  /** Hosts one action may touch without approval (a whole customer always needs one). */
  maxHostsPerAction: number;
  /** Hosts one operator may act on alone per rolling hour. */
  operatorHostsPerHour: number;
  /** Hours a pending approval stays grantable. */
  approvalTtlHours: number;
}

const THROTTLE_10M: Action = { kind: 'throttle', rateBps: 10_000_000 };

const p = (ladder: Action[], immediate = false): CategoryPolicy => ({ ackHours: 24, resolveHours: 72, immediate, ladder });

/** The defaults of the design's ladder table. */
export const DEFAULT_POLICY: PolicyConfig = {
  categories: {
    spam: p([{ kind: 'smtp_block' }, { kind: 'isolate' }]),
    phishing: p([{ kind: 'isolate' }, { kind: 'nic_down' }]),
    malware: p([{ kind: 'isolate' }, { kind: 'nic_down' }], true),
    botnet: p([{ kind: 'isolate' }, { kind: 'nic_down' }]),
    ddos: p([THROTTLE_10M, { kind: 'isolate' }], true),
    scan: p([THROTTLE_10M, { kind: 'isolate' }]),
    brute_force: p([THROTTLE_10M, { kind: 'isolate' }]),
    copyright: p([]),
    open_service: p([]),
    auth_failure: p([]),
    child_abuse: p([{ kind: 'isolate' }, { kind: 'nic_down' }], true),
    terrorism: p([{ kind: 'isolate' }, { kind: 'nic_down' }], true),
    other: p([]),
  },
  trustedReporterKinds: ['own_monitoring', 'upstream', 'cert'],
  maxAutomaticPerHour: 20,
  ladderStepHours: 24,
  maxPlanDays: 30,
  recidivism: { incidents: 3, windowDays: 90, migrationDays: 30 },
  bmcFreshMinutes: 15,
  fourEyes: { maxHostsPerAction: 1, operatorHostsPerHour: 5, approvalTtlHours: 24 },
};

export function isTrusted(kind: ReporterKind, policy: PolicyConfig): boolean {
  return policy.trustedReporterKinds.includes(kind);
}
