import { randomUUID } from 'node:crypto';
import type { Enforcement } from '../../proto/gen/cordon/v1/agent.js';
import type {
  Approval as ApprovalMsg,
  ApproveRequest,
  EnforceRequest,
  EnforceResponse,
  ListApprovalsResponse,
  RejectApprovalRequest,
} from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { roleAtLeast } from '../../proto/runtime/peerIdentity.js';
import type { CallContext } from '../../proto/runtime/rpcServer.js';
import { secondOperatorNeeded } from '../incidents/fourEyes.js';
import type { Action } from '../incidents/model.js';
import { describeAction } from '../mail/describeAction.js';
import { checkDecisionReason, type Approval } from '../store/ApprovalsRepo.js';
import type { IncidentDeskDeps } from './incidentDesk.js';

const HOUR = 3_600_000;

function operatorOf(ctx: CallContext): { name: string; role: string } {
  if (ctx.peer.kind !== 'operator') throw new CordonError('permission', 'operator certificates only');
  return { name: ctx.peer.name, role: ctx.peer.role };
}

export function fromProtoAction(e: Enforcement | undefined): Action {
  switch (e?.action?.$case) {
    case 'smtpBlock':
      return e.action.value.ports.length ? { kind: 'smtp_block', ports: e.action.value.ports } : { kind: 'smtp_block' };
    case 'throttle': {
      const rate = Number(e.action.value.rateBps);
      if (!(rate >= 8_000)) throw new CordonError('invalid', 'must be at least 8000 bits per second', { field: 'action.throttle.rateBps' });
      return { kind: 'throttle', rateBps: rate };
    }
    case 'isolate':
      return { kind: 'isolate' };
    case 'nicDown':
      return { kind: 'nic_down' };
    default:
      throw new CordonError('invalid', 'an action is required (smtp_block, throttle, isolate or nic_down)', { field: 'action' });
  }
}

/** An approval as the desk shows it: a pending one past its time reads `expired`. */
function toApprovalMsg(a: Approval, now: Date): ApprovalMsg {
  const expired = a.status === 'pending' && a.expiresAt !== undefined && now.getTime() >= a.expiresAt.getTime();
  return {
    id: a.id,
    requestedBy: a.requestedBy,
    hostIds: a.targets,
    action: JSON.stringify(a.action),
    reason: a.reason,
    state: expired ? 'expired' : a.status,
    approvedBy: a.decidedBy ?? '',
    requestedAt: a.requestedAt,
    expiresAt: a.expiresAt,
    incidentId: a.incidentId ?? '',
    why: a.why ?? '',
    decidedAt: a.decidedAt,
    actionWords: wordsOf(a.action),
    decisionReason: a.decisionReason ?? '',
  };
}

/** The stored action in the customer's words; a row this version cannot read says so rather than failing the list. */
function wordsOf(action: unknown): string {
  try {
    return describeAction(action as Action) ?? `unknown action ${JSON.stringify(action)}`;
  } catch {
    return `unknown action ${JSON.stringify(action)}`;
  }
}

/**
 * Operator enforcement and four eyes. Whether a second operator is needed
 * is decided on what would be done (fourEyes.ts), whatever the call named:
 * a cut without a trusted, overdue complaint, more hosts than one action may
 * touch, or more hosts than one operator may act on alone in an hour. A
 * grant is one transaction with the enforcement it allows: all hosts or
 * none, so a crash leaves the approval pending and a retry starts over.
 */
export function createApprovalDesk(deps: IncidentDeskDeps) {
  const policy = deps.policy.fourEyes;

  async function request(op: { name: string }, targets: string[], action: Action, reason: string, why: string, incidentId?: string): Promise<EnforceResponse> {
    const at = deps.clock();
    const approval = await deps.store.db.transaction(async () => {
      const a = await deps.store.approvals.create({
        id: `apr-${randomUUID().slice(0, 8)}`,
        requestedBy: op.name,
        at,
        action,
        targets,
        reason,
        expiresAt: new Date(at.getTime() + policy.approvalTtlHours * HOUR),
        incidentId,
        why,
      });
      await deps.store.audit.append({ at, actor: op.name, action: 'approval.requested', subject: a.id, detail: { hosts: targets, action, reason, why, incident: incidentId ?? null } });
      return a;
    });
    return { approvalId: approval.id, incidentIds: [] };
  }

  return {
    async enforce(req: EnforceRequest, ctx: CallContext): Promise<EnforceResponse> {
      const op = operatorOf(ctx);
      const targets = [req.incidentId ? 1 : 0, req.hostIds.length ? 1 : 0, req.customerId ? 1 : 0].reduce((a, b) => a + b, 0);
      if (targets !== 1) throw new CordonError('invalid', 'name exactly one target: an incident, hosts, or a customer', { field: 'target' });
      if (!req.reason.trim()) throw new CordonError('invalid', 'every enforcement needs a reason', { field: 'reason' });
      const action = fromProtoAction(req.action);
      const lastHour = await deps.service.operatorHostsSince(op.name, new Date(deps.clock().getTime() - HOUR));
      if (req.incidentId) {
        const incident = await deps.store.incidents.get(req.incidentId);
        if (!incident) throw new CordonError('not_found', `no incident ${req.incidentId}`, { field: 'incidentId' });
        const why = secondOperatorNeeded({ action, hosts: 1, wholeCustomer: false, incident, operatorHostsLastHour: lastHour, operator: op.name }, policy);
        if (why) return request(op, [incident.hostId], action, req.reason, why, incident.id);
        const i = await deps.service.apply(incident.id, { type: 'operator_enforce', operator: op.name, action, reason: req.reason }, op.name);
        return { approvalId: '', incidentIds: [i.id] };
      }
      const hosts = req.customerId ? (await deps.store.hosts.byCustomer(req.customerId)).map((h) => h.id) : [...new Set(req.hostIds)];
      if (hosts.length === 0) throw new CordonError('not_found', `customer ${req.customerId} has no hosts`, { field: 'customerId' });
      for (const h of hosts) if (!(await deps.store.hosts.get(h))) throw new CordonError('not_found', `no host ${h}`, { field: 'hostIds' });
      const why = secondOperatorNeeded(
        { action, hosts: hosts.length, wholeCustomer: !!req.customerId, incident: undefined, operatorHostsLastHour: lastHour, operator: op.name },
        policy,
      );
      if (why) {
        if (hosts.length > 1 && !roleAtLeast(op.role as never, 'abuse_operator')) {
          throw new CordonError('permission', `an action on ${hosts.length} hosts needs an abuse_operator; ${op.name} is ${op.role}`);
        }
        return request(op, hosts, action, req.reason, why);
      }
      return { approvalId: '', incidentIds: [await deps.service.enforceHost(hosts[0]!, action, req.reason, op.name)] };
    },

    async approve(req: ApproveRequest, ctx: CallContext): Promise<EnforceResponse> {
      const op = operatorOf(ctx);
      const approval = await deps.store.approvals.get(req.approvalId);
      if (!approval) throw new CordonError('not_found', `no approval ${req.approvalId}`, { field: 'approvalId' });
      const action = approval.action as unknown as Action;
      const reason = `${approval.reason} (approved by ${op.name}, requested by ${approval.requestedBy})`;
      // Granting and enforcing commit together: both or neither.
      const grant = async () => {
        const now = deps.clock();
        await deps.store.approvals.approve(approval.id, op.name, now);
        await deps.store.audit.append({ at: now, actor: op.name, action: 'approval.granted', subject: approval.id, detail: { requestedBy: approval.requestedBy, why: approval.why ?? null } });
      };
      if (approval.incidentId) {
        const event = { type: 'operator_enforce' as const, operator: approval.requestedBy, action, reason, approvalId: approval.id };
        const i = await deps.service.apply(approval.incidentId, event, op.name, { within: grant });
        return { approvalId: approval.id, incidentIds: [i.id] };
      }
      const ids = await deps.service.enforceHosts(approval.targets, action, reason, op.name, { approvalId: approval.id, within: grant });
      return { approvalId: approval.id, incidentIds: ids };
    },

    /**
     * Rejects (or, by its requester, withdraws) a pending approval. The
     * reason is required and kept with the approval (at most
     * MAX_DECISION_REASON_CHARS characters): `invalid` naming `reason`
     * otherwise, before anything is written.
     */
    async rejectApproval(req: RejectApprovalRequest, ctx: CallContext): Promise<ApprovalMsg> {
      const op = operatorOf(ctx);
      if (!req.reason.trim()) throw new CordonError('invalid', 'a rejection needs a reason', { field: 'reason' });
      const reason = checkDecisionReason(req.reason);
      const now = deps.clock();
      const a = await deps.store.db.transaction(async () => {
        const rejected = await deps.store.approvals.reject(req.approvalId, op.name, now, reason);
        await deps.store.audit.append({ at: now, actor: op.name, action: 'approval.rejected', subject: rejected.id, detail: { requestedBy: rejected.requestedBy, reason } });
        return rejected;
      });
      return toApprovalMsg(a, now);
    },

    async listApprovals(): Promise<ListApprovalsResponse> {
      const now = deps.clock();
      return { approvals: (await deps.store.approvals.list({})).map((a) => toApprovalMsg(a, now)) };
    },
  };
}
