import {
  Approval,
  ComplaintRecord,
  SubmitComplaintResponse,
  TerminationReview,
  type ListComplaintsResponse,
  type ListTerminationReviewsResponse,
} from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { DeskClient } from './deskClient.js';
import type { Flags } from './incidentCommands.js';
import { age, renderTable } from './table.js';

type Out = (text: string) => void;
const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

function need(f: Flags, name: string): string {
  const v = f[name];
  if (typeof v !== 'string' || !v.trim()) throw new CordonError('invalid', 'is required', { field: `--${name}` });
  return v;
}

function trustOf(c: ComplaintRecord): string {
  try {
    const a = JSON.parse(c.authentication) as { via?: string; reporterId?: string };
    return c.trusted ? `trusted (${a.via ?? '?'}${a.reporterId ? `: ${a.reporterId}` : ''})` : `untrusted${a.via && a.via !== 'none' ? ` (${a.via})` : ''}`;
  } catch {
    return c.trusted ? 'trusted' : 'untrusted';
  }
}

/** Whether the words name one of the commands below. */
export function isDueProcessCommand(words: string[]): boolean {
  const [noun, verb] = words;
  return noun === 'complaints' || noun === 'reviews' || noun === 'review' || (noun === 'approvals' && verb === 'reject') || (noun === 'complaint' && (verb === 'admit' || verb === 'dismiss'));
}

/**
 * `cordonctl complaints [--status held|duplicate|needs_info|rejected|linked]`,
 * `complaint admit|dismiss ID --reason R`, `approvals reject APPROVAL --reason R`,
 * `reviews [--status open|confirmed|declined]`, `review confirm|decline ID --reason R`.
 */
export async function runDueProcessCommand(client: DeskClient, words: string[], f: Flags, out: Out): Promise<number> {
  const [noun, verb, arg] = words;
  const asJson = f.json === true;
  const now = new Date();
  if (noun === 'complaints') {
    const r = await client.call<unknown, ListComplaintsResponse>('listComplaints', { status: typeof f.status === 'string' ? f.status : '', hostId: '', limit: 0 });
    out(
      asJson
        ? json(r.complaints.map((c) => ComplaintRecord.toJSON(c)))
        : renderTable(
            ['COMPLAINT', 'STATUS', 'IP', 'CATEGORY', 'REPORTER', 'TRUST', 'RECEIVED', 'REASON'],
            r.complaints.map((c) => [c.id, c.status, c.ip, c.category, c.reporter || '-', trustOf(c), age(c.receivedAt, now), c.reason || (c.incidentId ? `in ${c.incidentId}` : '-')]),
          ),
    );
    return 0;
  }
  if (noun === 'complaint') {
    const r = await client.call<unknown, SubmitComplaintResponse>('decideComplaint', { complaintId: arg ?? need(f, 'id'), decision: verb, reason: need(f, 'reason') });
    out(asJson ? json(SubmitComplaintResponse.toJSON(r)) : `${r.outcome}: ${r.reason}\n`);
    return 0;
  }
  if (noun === 'approvals') {
    const a = await client.call<unknown, Approval>('rejectApproval', { approvalId: arg ?? need(f, 'id'), reason: need(f, 'reason') });
    out(asJson ? json(Approval.toJSON(a)) : `${a.id}: ${a.state} by ${a.approvedBy}\n`);
    return 0;
  }
  if (noun === 'reviews') {
    const r = await client.call<unknown, ListTerminationReviewsResponse>('listTerminationReviews', { status: typeof f.status === 'string' ? f.status : '' });
    out(
      asJson
        ? json(r.reviews.map((x) => TerminationReview.toJSON(x)))
        : renderTable(
            ['REVIEW', 'CUSTOMER', 'STATUS', 'FLAGGED', 'INCIDENTS', 'DECIDED BY'],
            r.reviews.map((x) => [x.id, x.customerId, x.status, age(x.flaggedAt, now), x.incidentIds.join(','), x.decidedBy || '-']),
          ),
    );
    return 0;
  }
  if (verb !== 'confirm' && verb !== 'decline') throw new CordonError('invalid', 'review confirm ID --reason R, or review decline ID --reason R', { field: 'command' });
  const x = await client.call<unknown, TerminationReview>('decideTerminationReview', { id: arg ?? need(f, 'id'), confirm: verb === 'confirm', reason: need(f, 'reason') });
  out(asJson ? json(TerminationReview.toJSON(x)) : `${x.id}: ${x.status}${x.status === 'confirmed' ? ' (the migration notice is on its way to the customer)' : ''}\n`);
  return 0;
}
