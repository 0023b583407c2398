import { EnforcementKind, ResultStatus, type Report } from '../proto/gen-messages/cordon/v1/agent.js';
import type { ConvergeResult, ResultStatusName } from './enforce/Engine.js';
import type { EnforcementKindName } from './enforce/plan.js';

const KIND: Record<EnforcementKindName, EnforcementKind> = {
  smtp_block: EnforcementKind.ENFORCEMENT_KIND_SMTP_BLOCK,
  throttle: EnforcementKind.ENFORCEMENT_KIND_THROTTLE,
  isolate: EnforcementKind.ENFORCEMENT_KIND_ISOLATE,
  nic_down: EnforcementKind.ENFORCEMENT_KIND_NIC_DOWN,
};

const STATUS: Record<ResultStatusName, ResultStatus> = {
  applied: ResultStatus.RESULT_STATUS_APPLIED,
  failed: ResultStatus.RESULT_STATUS_FAILED,
  refused: ResultStatus.RESULT_STATUS_REFUSED,
};

/** The wire form of a converge result. */
export function reportOf(result: ConvergeResult): Report {
  return {
    appliedGeneration: result.generation,
    observedDigest: result.digest,
    observedAt: new Date(),
    error: '',
    results: result.outcomes.map((o) => ({ enforcementId: o.id, kind: KIND[o.kind], status: STATUS[o.status], error: o.error })),
    applyMs: result.applyMs,
    driftRepairs: BigInt(result.driftRepairs),
  };
}

/** A report for a desired state the engine would not take at all (older generation, invalid message). */
export function refusalReport(generation: bigint, digest: string, error: string): Report {
  return { appliedGeneration: generation, observedDigest: digest, observedAt: new Date(), error, results: [], applyMs: 0, driftRepairs: 0n };
}
