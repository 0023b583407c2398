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
import { readDeskNow } from './deskNow.js';
import { age, oneLine, renderTable } from './table.js';

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

/** The flags that name one complaint status, and the status each names. */
const STATUS_FLAGS = { 'needs-info': 'needs_info', rejected: 'rejected', duplicates: 'duplicate', held: 'held' } as const;

/** The one status asked for, by flag or --status; '' lets the desk default to held. Two asked for is a usage error. */
function complaintStatusOf(f: Flags): string {
  const named = Object.entries(STATUS_FLAGS).filter(([flag]) => f[flag] === true);
  if (typeof f.status === 'string') named.push(['status', f.status as never]);
  if (named.length > 1) {
    throw new CordonError('invalid', `give one of --needs-info, --rejected, --duplicates, --held or --status S, not ${named.map(([flag]) => `--${flag}`).join(' and ')}`, { field: 'status' });
  }
  return named[0]?.[1] ?? '';
}

/** --limit N: 1 to 1000 (the desk's own bound); absent, the desk's default. */
function limitOf(f: Flags): number {
  if (f.limit === undefined) return 0;
  const n = Number(f.limit);
  if (typeof f.limit !== 'string' || !/^\d+$/.test(f.limit) || n < 1 || n > 1000) {
    throw new CordonError('invalid', `must be a whole number from 1 to 1000, got ${JSON.stringify(f.limit)}`, { field: '--limit' });
  }
  return n;
}

/**
 * `cordonctl complaints [--needs-info|--rejected|--duplicates|--held] [--limit N]`,
 * `cordonctl complaints [--status held|duplicate|needs_info|rejected|linked]`,
 * `complaint admit|dismiss ID --reason R`, `approvals reject APPROVAL --reason R`,
 * `reviews [--status open|confirmed|declined]`, `review confirm|decline ID --reason R`.
 */
export async function runDueProcessCommand(client: DeskClient, words: string[], f: Flags, out: Out): Promise<number> {
  const [noun, verb, arg] = words;
  const asJson = f.json === true;
  if (noun === 'complaints') {
    const status = complaintStatusOf(f);
    const limit = limitOf(f);
    const [r, desk] = await Promise.all([client.call<unknown, ListComplaintsResponse>('listComplaints', { status, hostId: '', limit }), readDeskNow(client)]);
    if (asJson) {
      out(json(r.complaints.map((c) => ComplaintRecord.toJSON(c))));
      return 0;
    }
    if (r.complaints.length === 0) {
      out(`no ${status || 'held'} complaints\n`);
      return 0;
    }
    const duplicates = r.complaints.some((c) => c.duplicateOf);
    out(
      renderTable(
        ['COMPLAINT', `RECEIVED${desk.mark}`, 'REPORTER', 'IP', 'STATUS', 'CATEGORY', 'TRUST', ...(duplicates ? ['DUPLICATE OF'] : []), 'REASON'],
        r.complaints.map((c) => [
          c.id,
          `${c.receivedAt?.toISOString() ?? '-'} (${age(c.receivedAt, desk.now)})`,
          oneLine(c.reporter) || '-',
          c.ip,
          c.status,
          c.category,
          trustOf(c),
          ...(duplicates ? [c.duplicateOf || '-'] : []),
          oneLine(c.reason) || (c.incidentId ? `in ${c.incidentId}` : '-'),
        ]),
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
    out(asJson ? json(Approval.toJSON(a)) : `${a.id}: ${a.state} by ${a.approvedBy}: ${oneLine(a.decisionReason)} (${a.actionWords} on ${a.hostIds.join(', ')}, requested by ${a.requestedBy})\n`);
    return 0;
  }
  if (noun === 'reviews') {
    const [r, desk] = await Promise.all([
      client.call<unknown, ListTerminationReviewsResponse>('listTerminationReviews', { status: typeof f.status === 'string' ? f.status : '' }),
      readDeskNow(client),
    ]);
    out(
      asJson
        ? json(r.reviews.map((x) => TerminationReview.toJSON(x)))
        : renderTable(
            ['REVIEW', 'CUSTOMER', 'STATUS', `FLAGGED${desk.mark}`, 'INCIDENTS', 'DECIDED BY'],
            r.reviews.map((x) => [x.id, x.customerId, x.status, age(x.flaggedAt, desk.now), x.incidentIds.join(','), x.decidedBy || '-']),
          ),
    );
    return 0;
  }
  if (verb !== 'confirm' && verb !== 'decline') throw new CordonError('invalid', 'review confirm ID --reason R, or review decline ID --reason R', { field: 'command' });
  const x = await client.call<unknown, TerminationReview>('decideTerminationReview', { id: arg ?? need(f, 'id'), confirm: verb === 'confirm', reason: need(f, 'reason') });
  out(asJson ? json(TerminationReview.toJSON(x)) : `${x.id}: ${x.status}${x.status === 'confirmed' ? ' (the migration notice is on its way to the customer)' : ''}\n`);
  return 0;
}
