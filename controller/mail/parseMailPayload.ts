import { CordonError } from '../../proto/runtime/CordonError.js';
import type { MailTemplate } from '../incidents/lifecycle.js';
import { CATEGORIES, INCIDENT_STATES, type Action, type Incident } from '../incidents/model.js';
import type { MailPayload, OutboxMailPayload } from './OutboxSource.js';
import { CONTACT_CHANGED, parseContactChangedPayload } from './renderContactChanged.js';
import type { MailComplaint } from './renderMail.js';
import { parseReporterOutcomePayload, REPORTER_OUTCOME } from './renderReporterOutcome.js';
import type { StatementDecision, StatementFact, StatementInput } from './statementOfReasons.js';

const TEMPLATES: readonly MailTemplate[] = ['notice', 'escalated', 'enforced', 'released', 'released_agent_gone', 'closed', 'dismissed', 'termination', 'complaint_digest', 'answer_rejected'];
const INCIDENT_DATES = ['notifiedAt', 'ackDueAt', 'resolveDueAt', 'acknowledgedAt', 'answeredAt', 'escalatedAt', 'closedAt', 'noticeUndeliveredAt'] as const;

type Obj = Record<string, unknown>;

const invalid = (field: string, what: string) => new CordonError('invalid', `outbox mail payload: ${what}`, { field });

function obj(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(field, 'not an object');
  return v as Obj;
}
function str(o: Obj, key: string, at: string): string {
  if (typeof o[key] !== 'string') throw invalid(`${at}${key}`, 'not a string');
  return o[key] as string;
}
function date(o: Obj, key: string, at: string): Date {
  const v = o[key];
  const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : undefined;
  if (!d || Number.isNaN(d.getTime())) throw invalid(`${at}${key}`, 'not a date');
  return d;
}
/** JSON drops undefined and some writers use null: both mean absent. */
function optDate(o: Obj, key: string, at: string): Date | undefined {
  return o[key] === undefined || o[key] === null ? undefined : date(o, key, at);
}
function oneOf<T extends string>(o: Obj, key: string, at: string, allowed: readonly T[]): T {
  const v = str(o, key, at);
  if (!(allowed as readonly string[]).includes(v)) throw invalid(`${at}${key}`, `unknown value ${JSON.stringify(v)}`);
  return v as T;
}

function actions(v: unknown, field: string): Action[] {
  if (!Array.isArray(v)) throw invalid(field, 'not a list');
  return v.map((a, n) => {
    const o = obj(a, `${field}.${n}`);
    const kind = oneOf(o, 'kind', `${field}.${n}.`, ['smtp_block', 'throttle', 'isolate', 'nic_down'] as const);
    if (kind === 'throttle' && typeof o.rateBps !== 'number') throw invalid(`${field}.${n}.rateBps`, 'not a number');
    if (kind === 'smtp_block' && o.ports !== undefined && !(Array.isArray(o.ports) && o.ports.every((p) => Number.isInteger(p)))) {
      throw invalid(`${field}.${n}.ports`, 'not a list of ports');
    }
    return o as Action;
  });
}

function incident(v: unknown): Incident {
  const o = obj(v, 'incident');
  str(o, 'id', 'incident.');
  str(o, 'hostId', 'incident.');
  str(o, 'customerId', 'incident.');
  oneOf(o, 'category', 'incident.', CATEGORIES);
  oneOf(o, 'state', 'incident.', INCIDENT_STATES);
  if (typeof o.complaintCount !== 'number') throw invalid('incident.complaintCount', 'not a number');
  const revived: Obj = { ...o, openedAt: date(o, 'openedAt', 'incident.'), actions: actions(o.actions ?? [], 'incident.actions') };
  for (const key of INCIDENT_DATES) revived[key] = optDate(o, key, 'incident.');
  return revived as unknown as Incident;
}

/**
 * Reads an outbox mail payload back: checks what rendering relies on and
 * turns ISO strings into Dates. Accepts real Dates too, so an in-memory
 * outbox can skip JSON. Throws CordonError('invalid') naming the field: a row
 * that cannot be read will not become readable by retrying.
 */
export function parseMailPayload(raw: unknown): MailPayload {
  const o = obj(raw, 'payload');
  const host = obj(o.host, 'host');
  const publicPrefixes = host.publicPrefixes;
  if (!Array.isArray(publicPrefixes) || !publicPrefixes.every((p) => typeof p === 'string')) {
    throw invalid('host.publicPrefixes', 'not a list of prefixes');
  }
  const bmc = host.bmc === undefined || host.bmc === null ? undefined : obj(host.bmc, 'host.bmc');
  const customer = obj(o.customer, 'customer');
  const complaint = o.complaint === undefined || o.complaint === null ? undefined : complaintOf(obj(o.complaint, 'complaint'), 'complaint.');
  const complaints = o.complaints === undefined || o.complaints === null ? undefined : list(o.complaints, 'complaints').map((c, n) => complaintOf(obj(c, `complaints.${n}`), `complaints.${n}.`));
  const openedBy = o.openedBy === undefined || o.openedBy === null ? undefined : obj(o.openedBy, 'openedBy');
  if (typeof o.terminationReview !== 'boolean') throw invalid('terminationReview', 'not a boolean');
  if (typeof o.migrationDays !== 'number') throw invalid('migrationDays', 'not a number');
  return {
    template: oneOf(o, 'template', '', TEMPLATES),
    incident: incident(o.incident),
    host: {
      id: str(host, 'id', 'host.'),
      publicPrefixes: publicPrefixes as string[],
      bmc: bmc && { address: str(bmc, 'address', 'host.bmc.'), protocol: str(bmc, 'protocol', 'host.bmc.') },
    },
    customer: { id: str(customer, 'id', 'customer.'), name: str(customer, 'name', 'customer.'), email: str(customer, 'email', 'customer.') },
    complaint,
    ...(complaints ? { complaints } : {}),
    openedBy: openedBy && { operator: str(openedBy, 'operator', 'openedBy.'), reason: str(openedBy, 'reason', 'openedBy.') },
    actions: actions(o.actions, 'actions'),
    terminationReview: o.terminationReview,
    migrationDays: o.migrationDays,
    bmcCheckedAt: optDate(o, 'bmcCheckedAt', ''),
    ...(o.scope === undefined || o.scope === null ? {} : { scope: scopeOf(obj(o.scope, 'scope')) }),
    ...(o.approval === undefined || o.approval === null ? {} : { approval: approvalOf(obj(o.approval, 'approval')) }),
    ...(o.review === undefined || o.review === null ? {} : { review: reviewOf(obj(o.review, 'review')) }),
    ...(o.statement === undefined || o.statement === null ? {} : { statement: statementOf(obj(o.statement, 'statement')) }),
    ...(o.linkId === undefined || o.linkId === null ? {} : { linkId: str(o, 'linkId', '') }),
    ...(o.rejected === undefined || o.rejected === null ? {} : { rejected: rejectedOf(obj(o.rejected, 'rejected')) }),
  };
}

function rejectedOf(o: Obj): NonNullable<MailPayload['rejected']> {
  return { answer: oneOf(o, 'answer', 'rejected.', ['fixed', 'false_positive', 'appeal'] as const), answeredAt: optDate(o, 'answeredAt', 'rejected.'), reason: str(o, 'reason', 'rejected.') };
}

function list(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(field, 'not a list');
  return v;
}

function optStr(o: Obj, key: string, at: string): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : str(o, key, at);
}

function complaintOf(c: Obj, at: string): MailComplaint {
  const ip = optStr(c, 'ip', at);
  const eventTime = optDate(c, 'eventTime', at);
  const operatorEvidence = optStr(c, 'operatorEvidence', at);
  return {
    id: str(c, 'id', at),
    raw: str(c, 'raw', at),
    ...(c.partial === true ? { partial: true } : {}),
    reporter: str(c, 'reporter', at),
    category: str(c, 'category', at),
    receivedAt: date(c, 'receivedAt', at),
    ...(ip !== undefined ? { ip } : {}),
    ...(eventTime ? { eventTime } : {}),
    ...(eventTime && c.eventTimeSource === 'receipt' ? { eventTimeSource: 'receipt' as const } : {}),
    ...(operatorEvidence !== undefined ? { operatorEvidence } : {}),
  };
}

function statementOf(s: Obj): StatementInput {
  if (typeof s.total !== 'number' || !Number.isInteger(s.total) || s.total < 0) throw invalid('statement.total', 'not a count');
  const facts = list(s.facts, 'statement.facts').map((f, n): StatementFact => {
    const o = obj(f, `statement.facts.${n}`);
    const at = `statement.facts.${n}.`;
    const eventTime = optDate(o, 'eventTime', at);
    return {
      ip: str(o, 'ip', at),
      ...(eventTime ? { eventTime } : {}),
      ...(eventTime && o.eventTimeSource === 'receipt' ? { eventTimeSource: 'receipt' } : {}),
      receivedAt: date(o, 'receivedAt', at),
      reporter: str(o, 'reporter', at),
      observed: str(o, 'observed', at),
    };
  });
  const d = obj(s.decision, 'statement.decision');
  const by = oneOf(d, 'by', 'statement.decision.', ['policy', 'operator'] as const);
  let decision: StatementDecision;
  if (by === 'policy') {
    if (typeof d.step !== 'number' || !Number.isInteger(d.step) || d.step < 1) throw invalid('statement.decision.step', 'not a ladder step (1, 2, …)');
    const [action] = actions([d.action], 'statement.decision.action');
    decision = { by, step: d.step, action: action!, trigger: oneOf(d, 'trigger', 'statement.decision.', ['deadline', 'immediate'] as const) };
  } else {
    decision = { by, operator: str(d, 'operator', 'statement.decision.'), reason: str(d, 'reason', 'statement.decision.') };
  }
  return { facts, total: s.total, decision };
}

function scopeOf(s: Record<string, unknown>): { otherHosts: number; otherRestricted: string[] } {
  if (typeof s.otherHosts !== 'number' || !Number.isInteger(s.otherHosts) || s.otherHosts < 0) throw invalid('scope.otherHosts', 'not a count');
  if (!Array.isArray(s.otherRestricted) || !s.otherRestricted.every((h) => typeof h === 'string')) throw invalid('scope.otherRestricted', 'not a list of hosts');
  return { otherHosts: s.otherHosts, otherRestricted: s.otherRestricted as string[] };
}

function reviewOf(r: Record<string, unknown>): { id: string; incidentIds: string[]; decidedAt: Date } {
  if (!Array.isArray(r.incidentIds) || !r.incidentIds.every((x) => typeof x === 'string')) throw invalid('review.incidentIds', 'not a list of incidents');
  return { id: str(r, 'id', 'review.'), incidentIds: r.incidentIds as string[], decidedAt: date(r, 'decidedAt', 'review.') };
}

function approvalOf(a: Record<string, unknown>): { id: string; requestedBy: string; approvedBy: string } {
  return { id: str(a, 'id', 'approval.'), requestedBy: str(a, 'requestedBy', 'approval.'), approvedBy: str(a, 'approvedBy', 'approval.') };
}

/** Reads any outbox mail row back: a contact change, a reporter's outcome, or an incident's mail (`parseMailPayload`). */
export function parseOutboxMail(raw: unknown): OutboxMailPayload {
  const o = obj(raw, 'payload');
  if (o.template === CONTACT_CHANGED) return parseContactChangedPayload(o);
  if (o.template === REPORTER_OUTCOME) return parseReporterOutcomePayload(o);
  return parseMailPayload(o);
}
