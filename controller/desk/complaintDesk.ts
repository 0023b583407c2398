import type {
  ComplaintRaw,
  DecideComplaintRequest,
  GetComplaintRawRequest,
  DecideTerminationReviewRequest,
  ListComplaintsRequest,
  ListComplaintsResponse,
  ListTerminationReviewsRequest,
  ListTerminationReviewsResponse,
  SubmitComplaintResponse,
  TerminationReview as TerminationReviewMsg,
} from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { CallContext } from '../../proto/runtime/rpcServer.js';
import { COMPLAINT_STATUSES, type ComplaintStatus } from '../store/ComplaintsRepo.js';
import { REVIEW_STATUSES, type ReviewStatus, type TerminationReview } from '../store/TerminationReviewsRepo.js';
import { toComplaintRecord, toSubmitResponse, type IncidentDeskDeps } from './incidentDesk.js';

function operatorOf(ctx: CallContext): string {
  if (ctx.peer.kind !== 'operator') throw new CordonError('permission', 'operator certificates only');
  return ctx.peer.name;
}

function toReviewMsg(r: TerminationReview): TerminationReviewMsg {
  return {
    id: r.id,
    customerId: r.customerId,
    flaggedAt: r.flaggedAt,
    incidentIds: r.incidentIds,
    status: r.status,
    decidedBy: r.decidedBy ?? '',
    decidedAt: r.decidedAt,
    reason: r.reason ?? '',
  };
}

/**
 * What waits for an operator outside incidents: complaints by status
 * (held, duplicate, needs_info, rejected) and termination reviews, and the
 * operator's decisions on them.
 */
export function createComplaintDesk(deps: IncidentDeskDeps) {
  return {
    async listComplaints(req: ListComplaintsRequest): Promise<ListComplaintsResponse> {
      const status = (req.status || 'held') as ComplaintStatus;
      if (!(COMPLAINT_STATUSES as readonly string[]).includes(status)) {
        throw new CordonError('invalid', `one of ${COMPLAINT_STATUSES.join(', ')}`, { field: 'status' });
      }
      const limit = req.limit || 200;
      if (limit > 1000) throw new CordonError('invalid', 'at most 1000', { field: 'limit' });
      const list = await deps.store.complaints.listByStatus(status, limit);
      return { complaints: list.map(toComplaintRecord) };
    },

    /** One complaint's raw report, whole, as stored; `not_found` naming the field when there is no such complaint. */
    async getComplaintRaw(req: GetComplaintRawRequest): Promise<ComplaintRaw> {
      if (!req.complaintId) throw new CordonError('invalid', 'is required', { field: 'complaintId' });
      const c = await deps.store.complaints.get(req.complaintId);
      if (!c) throw new CordonError('not_found', `no complaint ${req.complaintId}`, { field: 'complaintId' });
      return { complaintId: c.id, incidentId: c.incidentId ?? '', raw: c.raw };
    },

    async decideComplaint(req: DecideComplaintRequest, ctx: CallContext): Promise<SubmitComplaintResponse> {
      const op = operatorOf(ctx);
      if (req.decision !== 'admit' && req.decision !== 'dismiss') throw new CordonError('invalid', 'admit or dismiss', { field: 'decision' });
      if (!req.reason.trim()) throw new CordonError('invalid', 'a decision on a held complaint needs a reason', { field: 'reason' });
      return toSubmitResponse(await deps.service.decideHeld(req.complaintId, req.decision, req.reason, op));
    },

    async listTerminationReviews(req: ListTerminationReviewsRequest): Promise<ListTerminationReviewsResponse> {
      if (req.status && !(REVIEW_STATUSES as readonly string[]).includes(req.status)) {
        throw new CordonError('invalid', `one of ${REVIEW_STATUSES.join(', ')}`, { field: 'status' });
      }
      return { reviews: (await deps.store.terminationReviews.list((req.status || undefined) as ReviewStatus | undefined)).map(toReviewMsg) };
    },

    async decideTerminationReview(req: DecideTerminationReviewRequest, ctx: CallContext): Promise<TerminationReviewMsg> {
      const op = operatorOf(ctx);
      if (!req.reason.trim()) throw new CordonError('invalid', 'a decision on a termination review needs a reason', { field: 'reason' });
      return toReviewMsg(await deps.service.decideTerminationReview(req.id, req.confirm, req.reason, op));
    },
  };
}
