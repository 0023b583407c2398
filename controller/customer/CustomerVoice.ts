import { randomBytes, randomUUID } from 'node:crypto';
import { CordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import { cidrContains, parseCidr } from '../../proto/runtime/cidr.js';
import type { Clock } from '../clock.js';
import type { IncidentService } from '../services/IncidentService.js';
import { TERMINAL_STATES, WAITING_FOR_OPERATOR, type Action, type Category, type Incident, type IncidentState } from '../incidents/model.js';
import type { PolicyConfig } from '../incidents/policy.js';
import { describeAction, describeCategory } from '../mail/describeAction.js';
import type { StoredComplaint } from '../store/ComplaintsRepo.js';
import type { CustomerLink } from '../store/CustomerLinksRepo.js';
import type { CustomerFile, CustomerMessage } from '../store/CustomerMessagesRepo.js';
import type { Store } from '../store/Store.js';
import { allowedAnswers, describeState, eventFor, parseAnswerForm, whyNotAllowed, type AnswerOption } from './customerAnswers.js';

/** One complaint as its customer may see it: their own address and their own part of the evidence only. */
export interface ComplaintFacts {
  ip: string;
  /** The reporter's name for an organisation; "a private person" or "an anonymous reporter" otherwise. */
  reporter: string;
  eventTime: Date | undefined;
  /** 'receipt': the report states no event time and eventTime is only the report's own date. */
  eventTimeSource?: 'report' | 'receipt' | undefined;
  receivedAt: Date;
  /** The excerpt of a many-network report, else the complaint's evidence; never another network's part. */
  evidence: string;
}

/** A deadline and what happens when it passes unanswered. */
export interface DeadlineFacts {
  what: string;
  at: Date;
  consequence: string;
}

/** Everything the customer page shows, gathered in one place; the web layer only renders it. */
export interface PageFacts {
  incident: Incident;
  category: string;
  host: { id: string; publicPrefixes: string[] };
  bmc: { address: string } | undefined;
  complaints: ComplaintFacts[];
  deadlines: DeadlineFacts[];
  /** The restrictions in force, in words. */
  restrictions: string[];
  state: string;
  /** The customer asked to be heard (or said fixed): a person of the abuse desk must look next. */
  waitingForPerson: boolean;
  messages: (CustomerMessage & { files: CustomerFile[] })[];
  /** What the abuse desk decided on this incident, oldest first, each with the reason it gave. */
  decisions: DeskDecisionFact[];
  /** The answers the page offers now; none when the incident is over (the page is read-only). */
  answers: AnswerOption[];
  readOnly: boolean;
  maxPlanDays: number;
}

/** One decision of the abuse desk, in the customer's words. */
export interface DeskDecisionFact {
  at: Date;
  words: string;
  reason: string | undefined;
}

/** The operators' decisions the customer is shown, in their words: the desk's answers to them and its own actions. */
const DECISION_WORDS: Record<string, (detail: Record<string, unknown>) => string> = {
  operator_verify: () => 'The abuse desk confirmed the fix and closed the incident.',
  operator_accept_dispute: () => "The abuse desk accepted your answer; the complaint is dismissed and anything it restricted is lifted.",
  operator_reject_dispute: () => 'The abuse desk did not accept your answer; the complaint stands.',
  operator_dismiss: () => 'The abuse desk dismissed the complaint.',
  operator_enforce: (d) => `The abuse desk restricted the server: ${describeStoredAction(d.action)}.`,
  operator_release: () => 'The abuse desk released the restrictions.',
};
/** The latest decisions a page lists. */
const PAGE_DECISIONS = 20;

function describeStoredAction(a: unknown): string {
  try {
    return describeAction(a as Action) ?? 'an action';
  } catch {
    return 'an action';
  }
}

/** One uploaded evidence file, read whole (the web layer bounds its size). */
export interface UploadedFile {
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface AnswerInput {
  link: CustomerLink;
  incident: Incident;
  /** The form's fields: answer, text, planDueAt, tz, submission. */
  fields: Record<string, string | undefined>;
  files: UploadedFile[];
  sourceAddress: string;
  userAgent: string | undefined;
}

/** `recorded`: the answer is in; `repeat`: this submission was recorded before, nothing new. */
export type AnswerOutcome = 'recorded' | 'repeat';

export interface CustomerVoiceDeps {
  store: Store;
  /** Read-only connections for what the page shows (ReadPool.next); the store itself when absent. Answers always go to the store. */
  reads?: () => Store;
  service: IncidentService;
  policy: PolicyConfig;
  clock: Clock;
}

/** Complaints the page lists at most (the latest). */
export const PAGE_COMPLAINTS = 50;
const SUBMISSION = /^[A-Za-z0-9_-]{16,64}$/;
const MAX_USER_AGENT = 512;
const MAX_FILENAME = 120;

/** Thrown inside the transaction when a concurrent twin of this submission got in first: roll back, report a repeat. */
class AlreadyRecorded extends Error {}

/**
 * The customer's voice on the page, without HTTP: what the page shows for a
 * link, and an answer recorded as the same lifecycle event an operator's
 * `cordonctl incident answer` is, with the customer's message and evidence
 * files in the same transaction. Errors are CordonErrors: `invalid` names the
 * field and its limit, `conflict` says in words why the state refuses it.
 */
export class CustomerVoice {
  constructor(private readonly deps: CustomerVoiceDeps) {}

  /** A one-time id for a form: a second submit of the same form records nothing. */
  static newSubmissionId(): string {
    return randomBytes(16).toString('base64url');
  }

  /** The incident as it stands now. */
  async incident(id: string): Promise<Incident | undefined> {
    return (this.deps.reads?.() ?? this.deps.store).incidents.get(id);
  }

  /** What the page shows for this incident. */
  async page(incident: Incident): Promise<PageFacts> {
    const s = this.deps.reads?.() ?? this.deps.store;
    // Independent reads, issued together: the page is the hot path of the listener.
    const [host, bmc, allMessages, files, complaints, decided] = await Promise.all([
      s.hosts.get(incident.hostId),
      s.bmcs.get(incident.hostId),
      s.customerMessages.listByIncident(incident.id),
      s.customerMessages.listFiles(incident.id),
      // The latest ones only: an incident can gather thousands; the page says how many there are.
      s.complaints.summariesByIncident(incident.id, PAGE_COMPLAINTS),
      s.events.listOfTypes(incident.id, Object.keys(DECISION_WORDS), PAGE_DECISIONS),
    ]);
    const prefixes = host?.publicPrefixes ?? [];
    const messages = allMessages.filter((m) => m.kind === 'answer' || m.kind === 'reply');
    // Released, or released and waiting for the server's confirmation: nothing left for the customer to answer.
    const readOnly = TERMINAL_STATES.includes(incident.state) || incident.state === 'released' || incident.state === 'releasing';
    return {
      incident,
      category: describeCategory(incident.category),
      host: { id: incident.hostId, publicPrefixes: prefixes },
      bmc: bmc ? { address: bmc.address } : undefined,
      complaints: this.complaints(complaints, prefixes),
      deadlines: this.deadlines(incident),
      restrictions: incident.actions.map(describeAction),
      state: describeState(incident.state),
      waitingForPerson: WAITING_FOR_OPERATOR.includes(incident.state),
      messages: messages.map((m) => ({ ...m, files: files.filter((f) => f.messageId === m.id) })),
      decisions: decided.map((e) => {
        const detail = (e.detail ?? {}) as Record<string, unknown>;
        return { at: e.at, words: DECISION_WORDS[e.type]!(detail), reason: typeof detail.reason === 'string' && detail.reason.trim() ? detail.reason : undefined };
      }),
      answers: readOnly ? [] : allowedAnswers(incident.state),
      readOnly,
      maxPlanDays: this.deps.policy.maxPlanDays,
    };
  }

  /**
   * Records one answer. A submission already recorded is a `repeat` and
   * changes nothing. Throws `invalid` (bad field, with its limit), `conflict`
   * (the state no longer allows it, in words); nothing is recorded then.
   */
  async answer(input: AnswerInput): Promise<AnswerOutcome> {
    const { incident, link } = input;
    const submissionId = input.fields.submission ?? '';
    if (!SUBMISSION.test(submissionId)) throw new CordonError('invalid', 'the form is incomplete; reload the page and try again', { field: 'submission' });
    if (await this.deps.store.customerMessages.bySubmission(incident.id, submissionId)) return 'repeat';
    if (TERMINAL_STATES.includes(incident.state) || incident.state === 'released' || incident.state === 'releasing') {
      throw new CordonError('conflict', `This incident is over (${describeState(incident.state)}); the page only shows it.`, { field: 'state' });
    }
    const form = parseAnswerForm(input.fields, this.deps.clock.now(), this.deps.policy.maxPlanDays);
    if (input.files.length > 0 && form.answer !== 'false_positive') {
      throw new CordonError('invalid', 'evidence files go with a false positive only', { field: 'files' });
    }
    if (!allowedAnswers(incident.state).some((o) => o.answer === form.answer)) {
      throw new CordonError('conflict', whyNotAllowed(form.answer, incident.state), { field: 'state' });
    }
    const userAgent = input.userAgent?.slice(0, MAX_USER_AGENT);
    try {
      await this.deps.service.apply(incident.id, eventFor(form), 'customer', {
        detail: { channel: 'page', sourceAddress: input.sourceAddress, userAgent, link: link.id },
        then: async (_before, _after, now) => {
          const messageId = `msg-${randomUUID()}`;
          const inserted = await this.deps.store.customerMessages.insert({
            id: messageId,
            incidentId: incident.id,
            at: now,
            channel: 'page',
            kind: 'answer',
            answer: form.answer,
            planDueAt: form.planDueAt,
            body: form.text,
            actor: 'customer',
            sourceAddress: input.sourceAddress,
            userAgent,
            messageId: undefined,
            submissionId,
            rawSha256: undefined,
          });
          if (!inserted) throw new AlreadyRecorded();
          for (const f of input.files) {
            await this.deps.store.customerMessages.addFile(
              { id: `file-${randomBytes(12).toString('hex')}`, messageId, incidentId: incident.id, filename: safeFilename(f.filename), contentType: safeContentType(f.contentType) },
              f.bytes,
            );
          }
        },
      });
      return 'recorded';
    } catch (err) {
      if (err instanceof AlreadyRecorded) return 'repeat';
      if (isCordonError(err, 'conflict')) {
        // Two tabs, one form: the other submit of this very form won the race.
        if (await this.deps.store.customerMessages.bySubmission(incident.id, submissionId)) return 'repeat';
        const now = await this.deps.store.incidents.get(incident.id);
        throw new CordonError('conflict', whyNotAllowed(form.answer, (now ?? incident).state as IncidentState), { field: 'state', cause: err });
      }
      throw err;
    }
  }

  /** One evidence file of this incident, or undefined (a file id alone opens nothing). */
  async file(incidentId: string, fileId: string): Promise<(CustomerFile & { bytes: Buffer }) | undefined> {
    if (!/^file-[0-9a-f]{24}$/.test(fileId)) return undefined;
    return (this.deps.reads?.() ?? this.deps.store).customerMessages.fileBytes(incidentId, fileId);
  }

  private complaints(stored: StoredComplaint[], prefixes: string[]): ComplaintFacts[] {
    const cidrs = prefixes.map((p) => parseCidr(p));
    const own = (ip: string) => {
      try {
        return cidrs.some((c) => cidrContains(c, ip));
      } catch {
        return false;
      }
    };
    return stored
      .filter((c) => c.status === 'linked' && own(c.ip))
      .map((c) => ({
        ip: c.ip,
        reporter: c.reporterKind === 'individual' ? 'a private person' : c.reporterKind === 'anonymous' ? 'an anonymous reporter' : c.reporter,
        eventTime: c.eventTime,
        eventTimeSource: c.eventTimeSource,
        receivedAt: c.receivedAt,
        evidence: c.excerpt ?? c.evidence,
      }));
  }

  private deadlines(i: Incident): DeadlineFacts[] {
    const out: DeadlineFacts[] = [];
    const ladder = this.deps.policy.categories[i.category as Category].ladder;
    const escalation = () =>
      i.trusted && ladder.length > 0
        ? `the incident escalates as a threat to our network, and this is applied to the server: ${describeAction(ladder[0]!)}`
        : 'the incident escalates as a threat to our network, and a person of the abuse desk decides on a restriction of the server';
    if (i.state === 'notified' && i.ackDueAt) out.push({ what: 'Acknowledge', at: i.ackDueAt, consequence: `If it is not acknowledged by then, ${escalation()}.` });
    if ((i.state === 'notified' || i.state === 'acknowledged') && i.resolveDueAt) {
      out.push({ what: 'Fix it, show a false positive, or give a plan', at: i.resolveDueAt, consequence: `If none of these is given by then, ${escalation()}.` });
    }
    if (i.state === 'plan_accepted' && i.resolveDueAt) out.push({ what: 'Fix it, as your plan says', at: i.resolveDueAt, consequence: `If it is not reported fixed by then, ${escalation()}.` });
    const next = ladder[i.step + 1];
    if (i.state === 'enforced' && i.hold === undefined && next && i.resolveDueAt) {
      out.push({ what: 'Fix it before the next step', at: i.resolveDueAt, consequence: `If it is not reported fixed by then, this is applied too: ${describeAction(next)}.` });
    }
    return out;
  }
}

/** A filename that is safe to store and to name in a header: letters, digits, dot, dash, underscore; no leading dot. */
function safeFilename(name: string): string {
  const base = name.split(/[\\/]/).at(-1) ?? '';
  const clean = base.normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(-MAX_FILENAME);
  return clean === '' ? 'evidence' : clean;
}

/** What the browser said the file is, kept for the record only (the file is always served as octet-stream). */
function safeContentType(type: string): string {
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/i.test(type) ? type.toLowerCase() : 'application/octet-stream';
}
