import { CUT_ACTIONS, type Action, type Incident } from './model.js';
import type { FourEyesPolicy } from './policy.js';

/** What an operator asks to do, as far as four eyes care. */
export interface OperatorRequest {
  action: Action;
  /** The hosts it would touch. */
  hosts: number;
  /** Asked for a whole customer. */
  wholeCustomer: boolean;
  /** The incident it acts on, when it names one (an action on a bare host opens an incident without a complaint). */
  incident: Incident | undefined;
  /** Distinct hosts this operator acted on alone in the last hour. */
  operatorHostsLastHour: number;
  operator: string;
}

/**
 * Why an operator's action needs a second operator, or undefined when one
 * may act alone. A policy on what is done, not on how it was asked: N calls
 * on one host each count like one call on N hosts.
 * - a whole customer, or more hosts than `maxHostsPerAction`;
 * - a cut (isolate, NIC down) unless its incident stands on a trusted
 *   complaint whose deadline passed unanswered (what automatic enforcement
 *   itself would need);
 * - more hosts than `operatorHostsPerHour` acted on alone within an hour.
 * Pure.
 */
export function secondOperatorNeeded(r: OperatorRequest, policy: FourEyesPolicy): string | undefined {
  if (r.wholeCustomer) return 'an action on a whole customer';
  if (r.hosts > policy.maxHostsPerAction) return `an action on ${r.hosts} hosts (more than ${policy.maxHostsPerAction} alone)`;
  if (CUT_ACTIONS.includes(r.action.kind)) {
    const i = r.incident;
    if (!i || i.openedBy !== 'complaint') return `${r.action.kind} without a complaint behind it`;
    if (!i.trusted) return `${r.action.kind} on incident ${i.id}, which has no trusted complaint`;
    if (!i.overdue) return `${r.action.kind} on incident ${i.id}, whose customer has not let a deadline pass`;
  }
  if (r.operatorHostsLastHour + r.hosts > policy.operatorHostsPerHour) {
    return `${r.operator} acted alone on ${r.operatorHostsLastHour} host${r.operatorHostsLastHour === 1 ? '' : 's'} in the last hour (at most ${policy.operatorHostsPerHour})`;
  }
  return undefined;
}
