import type {
  CustomerFile as CustomerFileMsg,
  CustomerLinkRecord,
  CustomerMessageRecord,
  GetCustomerFileRequest,
  Incident as IncidentMsg,
  LinkRequest,
  LinkResponse,
  MarkMessagesSeenRequest,
  MarkMessagesSeenResponse,
} from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { CallContext } from '../../proto/runtime/rpcServer.js';
import type { IncidentService } from '../services/IncidentService.js';
import { TERMINAL_STATES, type Incident } from '../incidents/model.js';
import type { CustomerLink } from '../store/CustomerLinksRepo.js';
import type { CustomerFile, CustomerMessage } from '../store/CustomerMessagesRepo.js';
import type { Store } from '../store/Store.js';
import { createDeskQueue } from './deskQueue.js';

export interface CustomerVoiceDeskDeps {
  store: Store;
  service: IncidentService;
  clock: () => Date;
  /** The desk's mapping of an incident (incidentDesk.toIncidentMsg with its policy). */
  toMsg: (i: Incident) => IncidentMsg;
  /** Whether a host's agent is connected now (the queue's unreachable enforcement, as the host page's dispatch status). */
  agentConnected: (hostId: string) => boolean;
  /** How many days after an incident closes its page links still open (`web.customer.linkTtlDays`); undefined without a customer page. */
  linkTtlDays?: number | undefined;
  /** Read-only connections for the queue's reads (IncidentDeskDeps.reads). */
  reads?: (() => Store) | undefined;
}

/** A reason an operator types: long enough to say why, short enough for the audit log. */
export const MAX_REASON_CHARS = 2000;
const DAY = 86_400_000;

export function toMessageRecord(m: CustomerMessage): CustomerMessageRecord {
  return {
    id: m.id,
    at: m.at,
    channel: m.channel,
    kind: m.kind,
    answer: m.answer ?? '',
    planDueAt: m.planDueAt,
    body: m.body,
    actor: m.actor,
    sourceAddress: m.sourceAddress ?? '',
    userAgent: m.userAgent ?? '',
    mailMessageId: m.messageId ?? '',
    seenBy: m.seenBy ?? '',
    seenAt: m.seenAt,
  };
}

/** File metadata for the desk; `content` stays empty unless the bytes were asked for. */
export function toFileMsg(f: CustomerFile, content: Buffer = Buffer.alloc(0)): CustomerFileMsg {
  return { id: f.id, messageId: f.messageId, incidentId: f.incidentId, filename: f.filename, contentType: f.contentType, size: BigInt(f.size), sha256: f.sha256, content };
}

/** A link as operators see it: never the token, nor its hash. */
export function toLinkRecord(l: CustomerLink): CustomerLinkRecord {
  return { id: l.id, createdAt: l.createdAt, createdBy: l.createdBy, revokedAt: l.revokedAt, revokedBy: l.revokedBy ?? '', contact: l.contact };
}

/** The customer's side of one incident, for GetIncident. */
export async function customerVoiceOf(store: Store, incidentId: string): Promise<{ messages: CustomerMessageRecord[]; files: CustomerFileMsg[]; links: CustomerLinkRecord[] }> {
  const [messages, files, links] = await Promise.all([store.customerMessages.listByIncident(incidentId), store.customerMessages.listFiles(incidentId), store.customerLinks.listByIncident(incidentId)]);
  return { messages: messages.map(toMessageRecord), files: files.map((f) => toFileMsg(f)), links: links.map(toLinkRecord) };
}

function operatorOf(ctx: CallContext): string {
  if (ctx.peer.kind !== 'operator') throw new CordonError('permission', 'operator certificates only');
  return ctx.peer.name;
}

function reasonOf(reason: string, required: boolean, fallback: string): string {
  const r = reason.trim();
  if (!r && required) throw new CordonError('invalid', 'is required: say why, for the audit log', { field: 'reason' });
  if (r.length > MAX_REASON_CHARS) throw new CordonError('invalid', `at most ${MAX_REASON_CHARS} characters, got ${r.length}`, { field: 'reason' });
  return r || fallback;
}

/** The desk's calls about the customer's voice. Roles are checked by `authorize` before these run. */
export function createCustomerVoiceDesk(deps: CustomerVoiceDeskDeps) {
  const { store } = deps;
  const incident = async (id: string): Promise<Incident> => {
    const i = id ? await store.incidents.get(id) : undefined;
    if (!i) throw new CordonError('not_found', `no incident ${JSON.stringify(id)}`, { field: 'incidentId' });
    return i;
  };

  /** What an operator should know about a link on an incident closed longer than the links live. */
  const expiryNote = (i: Incident, now: Date): string => {
    const ttl = deps.linkTtlDays;
    if (ttl === undefined) return 'this controller has no customer page (web.customer): the notice carries no link';
    if (TERMINAL_STATES.includes(i.state) && i.closedAt && now.getTime() > i.closedAt.getTime() + ttl * DAY) {
      return `the incident closed ${i.closedAt.toISOString()}, more than ${ttl} days ago: a link to it no longer opens the page`;
    }
    return '';
  };

  const revoke = async (i: Incident, op: string, reason: string, resend: boolean, now: Date): Promise<number> => {
    const revoked = await store.customerLinks.revokeAll(i.id, op, now);
    await store.events.append({ incidentId: i.id, at: now, type: 'links_revoked', fromState: i.state, toState: i.state, actor: op, detail: { reason, revoked, resend } });
    await store.audit.append({ at: now, actor: op, action: 'incident.links_revoked', subject: i.id, detail: { reason, revoked, resend } });
    return revoked;
  };

  return {
    // The queue lives in deskQueue.ts; it stays one of these handlers, as DeskService and the pages know it.
    ...createDeskQueue({ store, toMsg: deps.toMsg, agentConnected: deps.agentConnected, reads: deps.reads }),

    async getCustomerFile(req: GetCustomerFileRequest, ctx: CallContext): Promise<CustomerFileMsg> {
      const op = operatorOf(ctx);
      await incident(req.incidentId);
      const f = req.fileId ? await store.customerMessages.fileBytes(req.incidentId, req.fileId) : undefined;
      if (!f) throw new CordonError('not_found', `incident ${req.incidentId} has no file ${JSON.stringify(req.fileId)}`, { field: 'fileId' });
      // Who read the customer's evidence is part of the record.
      await store.audit.append({ at: deps.clock(), actor: op, action: 'incident.file_read', subject: req.incidentId, detail: { file: f.id, sha256: f.sha256, size: f.size } });
      return toFileMsg(f, f.bytes);
    },

    async markMessagesSeen(req: MarkMessagesSeenRequest, ctx: CallContext): Promise<MarkMessagesSeenResponse> {
      const op = operatorOf(ctx);
      const i = await incident(req.incidentId);
      return store.db.transaction(async () => {
        const now = deps.clock();
        let ids: string[];
        if (req.messageId) {
          const m = await store.customerMessages.get(req.messageId);
          if (!m || m.incidentId !== i.id) throw new CordonError('not_found', `incident ${i.id} has no message ${JSON.stringify(req.messageId)}`, { field: 'messageId' });
          if (m.seenAt) throw new CordonError('conflict', `message ${m.id} was already seen by ${m.seenBy} at ${m.seenAt.toISOString()}`, { field: 'messageId' });
          ids = [m.id];
        } else {
          ids = (await store.customerMessages.listByIncident(i.id)).filter((m) => m.seenAt === undefined).map((m) => m.id);
        }
        const marked: string[] = [];
        for (const id of ids) if (await store.customerMessages.markSeen(id, op, now)) marked.push(id);
        if (marked.length > 0) await store.audit.append({ at: now, actor: op, action: 'incident.messages_seen', subject: i.id, detail: { messages: marked } });
        return { marked };
      });
    },

    async resendLink(req: LinkRequest, ctx: CallContext): Promise<LinkResponse> {
      const op = operatorOf(ctx);
      const reason = reasonOf(req.reason, false, `a new link re-sent by ${op}`);
      const before = await incident(req.incidentId);
      let revoked = 0;
      // The mail effect makes a fresh link for the customer's current contact, as none is live any more.
      await deps.service.queueMail(before.id, 'notice', op, reason, {
        within: async (i, now) => {
          revoked = await revoke(i, op, reason, true, now);
        },
      });
      return { revoked, noticeQueued: true, note: expiryNote(before, deps.clock()) };
    },

    async revokeLinks(req: LinkRequest, ctx: CallContext): Promise<LinkResponse> {
      const op = operatorOf(ctx);
      const reason = reasonOf(req.reason, true, '');
      const i = await incident(req.incidentId);
      const revoked = await store.db.transaction(() => revoke(i, op, reason, false, deps.clock()));
      return { revoked, noticeQueued: false, note: revoked === 0 ? 'no live link to revoke' : '' };
    },
  };
}
