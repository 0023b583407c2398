import {
  Answer,
  Decision,
  type BmcCheckResult,
  type GetHostRequest,
  type AnswerIncidentRequest,
  type DecideIncidentRequest,
  type Incident as IncidentMsg,
  type IncidentDetail,
  type ListIncidentsRequest,
  type ListIncidentsResponse,
  type SubmitComplaintRequest,
  type SubmitComplaintResponse,
  type VerifyAuditResponse,
  type AdvanceClockRequest,
  type AdvanceClockResponse,
  type ClockReading,
  type ComplaintRecord,
} from '../../proto/gen/cordon/v1/desk.js';
import type { StoredComplaint } from '../store/ComplaintsRepo.js';
import type { StoredBmcCheck } from '../store/BmcRepo.js';
import { INCIDENT_MAILS_SHOWN, toIncidentMails } from './incidentMails.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { CallContext } from '../../proto/runtime/rpcServer.js';
import type { BmcCheck } from '../bmc/BmcDriver.js';
import { describeAction } from '../dispatch/toProtoState.js';
import type { IncidentService, SubmitResult } from '../services/IncidentService.js';
import type { IncidentEvent } from '../incidents/lifecycle.js';
import { nextDueAt } from '../incidents/lifecycle.js';
import type { Incident } from '../incidents/model.js';
import type { PolicyConfig } from '../incidents/policy.js';
import type { Store } from '../store/Store.js';
import { createApprovalDesk } from './approvalDesk.js';
import { createComplaintDesk } from './complaintDesk.js';
import type { DrillClock } from '../clock.js';
import { createHostDesk } from './hostDesk.js';
import type { EnforcementObservation } from '../incidents/observeEnforcement.js';
import type { ObserverReads } from '../dispatch/EnforcementObserver.js';
import { createReporterDesk } from './reporterDesk.js';
import { createCustomerVoiceDesk, customerVoiceOf } from './customerVoiceDesk.js';
import { randomUUID } from 'node:crypto';

export interface IncidentDeskDeps {
  store: Store;
  service: IncidentService;
  policy: PolicyConfig;
  clock: () => Date;
  /** After hosts changed: refresh the agent link's inventory snapshot. */
  onHostsChanged: () => Promise<void>;
  /** Whether the host's agent is connected now (for the dispatch status). */
  agentConnected: (hostId: string) => boolean;
  /** What the agent or the switch confirmed of hosts' enforcement (EnforcementObserver.observeMany); absent: not shown. */
  observe?: ((hostIds: readonly string[], loaded?: ObserverReads) => Promise<Map<string, EnforcementObservation>>) | undefined;
  /** Checks a host's BMC now; absent when the controller has no BMC driver. */
  checkBmc?: (hostId: string) => Promise<BmcCheck>;
  /** The drill clock (clock.drill); absent in production, where the clock cannot be moved. */
  drillClock?: DrillClock;
  /** `bmc.credentialsDir`, where BMC password files must lie (hostDesk.ts); absent: BMCs cannot be set over the desk. */
  bmcCredentialsDir?: string | undefined;
  /**
   * Threads a relayed mail onto its incident when it is the customer's reply,
   * auto-reply or a bounce of our mail (CustomerMailThreader.thread); undefined
   * when it is not, and the mail is read as a report. Absent: every mail is a report.
   */
  threadCustomerMail?: ((raw: Buffer, relayedBy: string) => Promise<{ incidentId: string; reason: string } | undefined>) | undefined;
  /** `web.customer.linkTtlDays`, when the customer page is on (the desk says when a re-sent link will already be expired). */
  linkTtlDays?: number | undefined;
  /**
   * Read-only connections (ReadPool.next) for the desk's heaviest reads, the
   * queue and an incident's page, so many open pages read beside the writer
   * instead of waiting behind each other on it. Absent: they read on `store`.
   */
  reads?: (() => Store) | undefined;
}

/** What the customer said, as an operator records it: room for a pasted mail, not for a file (files go through the page). */
export const MAX_NOTE_CHARS = 20_000;

/** A year: a drill that needs more is a mistake, not a drill. */
const MAX_ADVANCE_SECONDS = 366 * 86_400;

function operatorOf(ctx: CallContext): { name: string; role: string } {
  if (ctx.peer.kind !== 'operator') throw new CordonError('permission', 'operator certificates only');
  return { name: ctx.peer.name, role: ctx.peer.role };
}

export function toIncidentMsg(i: Incident, policy: PolicyConfig): IncidentMsg {
  return {
    id: i.id,
    hostId: i.hostId,
    customerId: i.customerId,
    category: i.category,
    state: i.state,
    trusted: i.trusted,
    openedAt: i.openedAt,
    ackDueAt: i.ackDueAt,
    resolveDueAt: i.resolveDueAt,
    escalatedAt: i.escalatedAt,
    closedAt: i.closedAt,
    hold: i.hold ?? '',
    actions: i.actions.map(describeAction),
    complaintCount: i.complaintCount,
    nextDueAt: nextDueAt(i, policy),
    established: i.established,
    overdue: i.overdue,
    openedBy: i.openedBy,
    approvalId: i.approvalId ?? '',
    pendingAction: i.pendingAction ? describeAction(i.pendingAction) : '',
    noticeUndeliveredAt: i.noticeUndeliveredAt,
  };
}

export function toComplaintRecord(c: StoredComplaint): ComplaintRecord {
  return {
    id: c.id,
    receivedAt: c.receivedAt,
    ip: c.ip,
    reporter: c.reporter,
    reporterKind: c.reporterKind,
    evidence: c.evidence,
    status: c.status,
    reason: c.reason ?? '',
    trusted: c.trusted ?? false,
    authentication: JSON.stringify(c.authentication ?? {}),
    duplicateOf: c.duplicateOf ?? '',
    category: c.category,
    eventTime: c.eventTime,
    eventTimeSource: c.eventTimeSource ?? 'report',
    incidentId: c.incidentId ?? '',
    messageId: c.messageId ?? '',
    excerpt: c.excerpt ?? '',
  };
}

/** One routed complaint as the desk answers it. */
export function toSubmitResponse(r: SubmitResult): SubmitComplaintResponse {
  return {
    complaintId: r.complaintId,
    incidentId: r.incidentId ?? '',
    outcome: r.outcome,
    reason: r.reason,
    parsed: [],
    needsInfo: '',
    trusted: r.trusted ?? false,
    authentication: JSON.stringify(r.authentication ?? {}),
  };
}

export type IncidentDesk = ReturnType<typeof createIncidentDesk>;

/** BMC checks an incident page lists, newest first. */
const BMC_CHECKS_SHOWN = 20;
const DAY_MS = 86_400_000;

/** The checks "around" an incident: from a day before it opened to a day after it closed (or now, while open). */
function checksAround(i: Incident): { since: Date; until: Date | undefined } {
  return { since: new Date(i.openedAt.getTime() - DAY_MS), until: i.closedAt ? new Date(i.closedAt.getTime() + DAY_MS) : undefined };
}

/** A stored check as BmcCheckResult; the store keeps no attempts, error kind or details, so those stay empty. */
function toBmcCheckResult(hostId: string, c: StoredBmcCheck): BmcCheckResult {
  return { hostId, reachable: c.reachable, sol: c.sol, checkedAt: c.checkedAt, durationMs: Math.round(c.durationMs), error: c.error ?? '', errorKind: '', attempts: 0, details: {} };
}

/** The desk's incident calls, mapped onto the service. Roles are checked by `authorize` before these run. */
export function createIncidentDesk(deps: IncidentDeskDeps) {
  const msg = (i: Incident) => toIncidentMsg(i, deps.policy);
  const hostDesk = createHostDesk(deps);

  return {
    ...createReporterDesk(deps),
    ...hostDesk,
    ...createApprovalDesk(deps),
    ...createComplaintDesk(deps),
    ...createCustomerVoiceDesk({ store: deps.store, service: deps.service, clock: deps.clock, toMsg: msg, agentConnected: deps.agentConnected, linkTtlDays: deps.linkTtlDays, reads: deps.reads }),

    async submitComplaint(req: SubmitComplaintRequest, ctx: CallContext): Promise<SubmitComplaintResponse> {
      // A feed's own certificate vouches for its reports; an operator only relays a raw report (its mail authentication decides).
      const peer = ctx.peer as { kind: string; name?: string };
      const feed = peer.kind === 'feed' ? String(peer.name) : undefined;
      const actor = feed ? `feed:${feed}` : operatorOf(ctx).name;
      if (!req.ip && (req.raw || req.report.length > 0)) {
        const bytes = req.report.length > 0 ? Buffer.from(req.report) : Buffer.from(req.raw, 'utf8');
        const channel = feed ? { kind: 'feed' as const, feed, actor } : { kind: 'relay' as const, actor };
        // Only an operator's relay of the abuse mailbox carries customer mail; a feed's reports are reports.
        const threaded = feed ? undefined : await deps.threadCustomerMail?.(bytes, actor);
        if (threaded) {
          return { complaintId: '', incidentId: threaded.incidentId, outcome: 'threaded', reason: threaded.reason, parsed: [], needsInfo: '', trusted: false, authentication: '' };
        }
        const ingested = await deps.service.ingestReport(bytes, actor, req.filename || undefined, channel);
        const authentication = JSON.stringify(ingested.authentication);
        const parsed = ingested.results.map((r) => ({
          complaintId: r.complaintId,
          incidentId: r.incidentId ?? '',
          outcome: r.outcome,
          reason: r.reason,
          parsed: [],
          needsInfo: '',
          trusted: r.trusted ?? false,
          authentication,
        }));
        const first = parsed[0]!;
        return { ...first, parsed, needsInfo: ingested.needsInfo ?? '' };
      }
      if (feed) throw new CordonError('permission', 'a feed submits raw reports only; the report is parsed and authenticated here', { field: 'ip' });
      const r = await deps.service.submitComplaint(
        { ip: req.ip, category: req.category, reporter: req.reporter, reporterKind: req.reporterKind, eventTime: req.eventTime, evidence: req.evidence, raw: req.raw },
        actor,
      );
      return toSubmitResponse(r);
    },

    async listIncidents(req: ListIncidentsRequest): Promise<ListIncidentsResponse> {
      const list = await deps.store.incidents.list({
        ...(req.state ? { state: req.state as Incident['state'] } : {}),
        ...(req.hostId ? { hostId: req.hostId } : {}),
        ...(req.customerId ? { customerId: req.customerId } : {}),
        limit: req.limit || 200,
      });
      return { incidents: list.map(msg) };
    },

    async getIncident(req: { id: string }): Promise<IncidentDetail> {
      const r = deps.reads?.() ?? deps.store;
      const i = await r.incidents.get(req.id);
      if (!i) throw new CordonError('not_found', `no incident ${req.id}`, { field: 'id' });
      // Every read by an index and bounded; the host as GetHost shows it (one function, not a copy).
      const [events, complaints, voice, mails, host, checks] = await Promise.all([
        r.events.list(i.id),
        r.complaints.listByIncident(i.id),
        customerVoiceOf(r, i.id),
        r.outbox.mailsOfIncident(i.id, INCIDENT_MAILS_SHOWN),
        hostDesk.getHost({ id: i.hostId }).catch((err: unknown) => {
          // A host since removed from the inventory: the incident stays readable.
          if (err instanceof CordonError && err.kind === 'not_found') return undefined;
          throw err;
        }),
        r.bmcs.checksOfHost(i.hostId, checksAround(i), BMC_CHECKS_SHOWN),
      ]);
      return {
        incident: msg(i),
        events: events.map((e) => ({ at: e.at, type: e.type, fromState: e.fromState ?? '', toState: e.toState ?? '', actor: e.actor, detail: JSON.stringify(e.detail ?? {}) })),
        complaints: complaints.map(toComplaintRecord),
        ...voice,
        mails: toIncidentMails(mails, events),
        host,
        bmcChecks: checks.map((c) => toBmcCheckResult(i.hostId, c)),
      };
    },

    async answerIncident(req: AnswerIncidentRequest, ctx: CallContext): Promise<IncidentMsg> {
      const op = operatorOf(ctx);
      let event: IncidentEvent;
      switch (req.answer) {
        case Answer.ANSWER_ACK:
          event = { type: 'customer_ack' };
          break;
        case Answer.ANSWER_FIXED:
          event = { type: 'customer_fixed' };
          break;
        case Answer.ANSWER_FALSE_POSITIVE:
          event = { type: 'customer_false_positive' };
          break;
        case Answer.ANSWER_PLAN:
          if (!req.planDueAt) throw new CordonError('invalid', 'a plan needs its due date', { field: 'planDueAt' });
          event = { type: 'customer_plan', dueAt: req.planDueAt };
          break;
        default:
          throw new CordonError('invalid', 'one of ack, fixed, false positive or plan', { field: 'answer' });
      }
      const note = req.note.trim();
      // The operator speaks for the customer: what the customer said is the record, not the operator's click.
      if (!note && event.type !== 'customer_ack') {
        throw new CordonError('invalid', `a ${event.type.slice('customer_'.length).replace(/_/g, ' ')} recorded by an operator needs what the customer said`, { field: 'note' });
      }
      if (note.length > MAX_NOTE_CHARS) throw new CordonError('invalid', `at most ${MAX_NOTE_CHARS} characters, got ${note.length}`, { field: 'note' });
      const actor = `customer via ${op.name}`;
      const answer = ({ customer_ack: 'ack', customer_fixed: 'fixed', customer_false_positive: 'false_positive', customer_plan: 'plan' } as const)[event.type];
      const recorded = await deps.service.apply(req.incidentId, event, actor, {
        detail: { channel: 'operator', ...(note ? { note } : {}) },
        then: async (_before, after, now) => {
          const id = `msg-${randomUUID()}`;
          await deps.store.customerMessages.insert({
            id,
            incidentId: after.id,
            at: now,
            channel: 'operator',
            kind: 'answer',
            answer,
            planDueAt: event.type === 'customer_plan' ? event.dueAt : undefined,
            body: note,
            actor,
            sourceAddress: undefined,
            userAgent: undefined,
            messageId: undefined,
            submissionId: undefined,
            rawSha256: undefined,
          });
          // The operator who typed it has read it: it does not wait in the queue as unseen.
          await deps.store.customerMessages.markSeen(id, op.name, now);
        },
      });
      return msg(recorded);
    },

    async decideIncident(req: DecideIncidentRequest, ctx: CallContext): Promise<IncidentMsg> {
      const op = operatorOf(ctx);
      const current = await deps.store.incidents.get(req.incidentId);
      if (!current) throw new CordonError('not_found', `no incident ${req.incidentId}`, { field: 'incidentId' });
      const reason = req.reason.trim();
      // An appeal is a customer contesting a restriction in force: the answer either way must say why.
      if (current.state === 'appealed' && (req.decision === Decision.DECISION_VERIFY || req.decision === Decision.DECISION_REJECT_DISPUTE) && !reason) {
        throw new CordonError('invalid', `incident ${current.id} is appealed: deciding the appeal needs a reason`, { field: 'reason' });
      }
      // An answer not accepted is answered with the why: the customer is sent it (the answer_rejected mail).
      if (req.decision === Decision.DECISION_REJECT_DISPUTE && !reason) {
        const what = current.state === 'customer_resolved' ? 'fix' : 'answer';
        throw new CordonError('invalid', `incident ${current.id}: rejecting the customer's ${what} needs a reason (the customer is sent it)`, { field: 'reason' });
      }
      let event: IncidentEvent;
      switch (req.decision) {
        case Decision.DECISION_VERIFY:
          event = current.state === 'disputed' || current.state === 'appealed' ? { type: 'operator_accept_dispute', operator: op.name } : { type: 'operator_verify', operator: op.name };
          break;
        case Decision.DECISION_REJECT_DISPUTE:
          event = { type: 'operator_reject_dispute', operator: op.name, reason: reason || undefined };
          break;
        case Decision.DECISION_DISMISS:
          if (!req.reason.trim()) throw new CordonError('invalid', 'a dismissal needs a reason', { field: 'reason' });
          event = { type: 'operator_dismiss', operator: op.name, reason: req.reason };
          break;
        case Decision.DECISION_RELEASE:
          event = { type: 'operator_release', operator: op.name };
          break;
        case Decision.DECISION_OVERRIDE_BMC:
          if (!req.reason.trim()) throw new CordonError('invalid', 'an override of the BMC check needs a reason', { field: 'reason' });
          event = { type: 'operator_override_bmc', operator: op.name, reason: req.reason };
          break;
        case Decision.DECISION_RELEASE_AGENT_GONE: {
          if (!reason) throw new CordonError('invalid', 'finishing a release without the agent needs a reason', { field: 'reason' });
          // The network side must really be open before anyone is told it is.
          const port = await deps.store.switches.get(current.hostId);
          if (port?.portDown) {
            const why = port.failure ? `the switch is failing (${port.failure.kind} since ${port.failure.since.toISOString()}: ${port.failure.error})` : 'it reopens at the next sweep';
            throw new CordonError('conflict', `incident ${current.id}: the switch port of ${current.hostId} is still shut by Cordon; ${why}. Try again once it is open`, { field: 'state' });
          }
          event = { type: 'operator_release_agent_gone', operator: op.name, reason };
          break;
        }
        default:
          throw new CordonError('invalid', 'one of verify, reject-dispute, dismiss, release, release-agent-gone or override-bmc', { field: 'decision' });
      }
      // A reason the event does not carry itself goes into its detail (and the audit entry).
      const detail = reason && !('reason' in event) ? { reason } : undefined;
      return msg(await deps.service.apply(req.incidentId, event, op.name, detail ? { detail } : {}));
    },

    async checkBmc(req: GetHostRequest, ctx: CallContext): Promise<BmcCheckResult> {
      const op = operatorOf(ctx);
      if (!deps.checkBmc) throw new CordonError('unsupported', 'this controller has no BMC driver');
      if (!(await deps.store.hosts.get(req.id))) throw new CordonError('not_found', `no host ${req.id}`, { field: 'id' });
      const c = await deps.checkBmc(req.id);
      await deps.store.audit.append({ at: deps.clock(), actor: op.name, action: 'bmc.check', subject: req.id, detail: { reachable: c.reachable, sol: c.sol, error: c.error ?? null } });
      return {
        hostId: c.hostId,
        reachable: c.reachable,
        sol: c.sol,
        checkedAt: c.checkedAt,
        durationMs: Math.round(c.durationMs),
        error: c.error ?? '',
        errorKind: c.errorKind ?? '',
        attempts: c.attempts,
        details: c.details ?? {},
      };
    },

    async advanceClock(req: AdvanceClockRequest, ctx: CallContext): Promise<AdvanceClockResponse> {
      const op = operatorOf(ctx);
      if (!deps.drillClock) throw new CordonError('refused', 'the clock can only be moved on a controller in drill mode (clock.drill = true)');
      const seconds = Number(req.seconds);
      if (seconds <= 0 || seconds > MAX_ADVANCE_SECONDS) {
        throw new CordonError('invalid', `seconds must be between 1 and ${MAX_ADVANCE_SECONDS}, got ${req.seconds}`, { field: 'seconds' });
      }
      const from = deps.clock();
      // Audited before the move, at the time it was asked: the chain records who moved time, from when, by how much.
      await deps.store.audit.append({ at: from, actor: op.name, action: 'clock.advance', subject: 'controller', detail: { seconds, reason: req.reason } });
      deps.drillClock.advance(seconds * 1000);
      return { now: deps.clock(), offsetSeconds: BigInt(Math.round(deps.drillClock.offsetMs / 1000)) };
    },

    /** The incident clock's now, so a client reads ages and due times in its terms rather than its own wall clock's. */
    async getClock(): Promise<ClockReading> {
      const now = deps.clock();
      return { now, drill: deps.drillClock !== undefined, offsetSeconds: BigInt(Math.round((now.getTime() - Date.now()) / 1000)) };
    },

    async verifyAudit(): Promise<VerifyAuditResponse> {
      const v = await deps.store.audit.verify();
      return v.ok
        ? { ok: true, rows: BigInt(v.rows), firstBrokenId: 0n, reason: '' }
        : { ok: false, rows: BigInt(v.rows), firstBrokenId: BigInt(v.firstBroken.id), reason: v.firstBroken.reason };
    },
  };
}
