import type { EnforcementPlan } from '../enforce/plan.js';

/**
 * One part of the host's enforcement (nftables, tc, links), declarative:
 * `apply` converges to the plan and is safe to call again with the same plan;
 * `observe` reads back what is really there; `release` removes everything the
 * backend owns and nothing else. Each backend touches only objects it created.
 */
export interface Backend<Observed> {
  readonly name: string;
  apply(plan: EnforcementPlan): Promise<void>;
  observe(plan: EnforcementPlan): Promise<Observed>;
  release(plan: EnforcementPlan): Promise<void>;
}
