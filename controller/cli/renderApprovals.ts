import type { Approval } from '../../proto/gen/cordon/v1/desk.js';
import type { DeskNow } from './deskNow.js';
import { age, dueIn, oneLine } from './table.js';

/**
 * `cordonctl approvals` for people: per request the action in words, the
 * hosts, who asked and why, who granted or refused it (and why, for a
 * rejection), and when a pending one lapses. Times are the incident clock's (approvals are stamped on it).
 */
export function renderApprovals(list: Approval[], desk: DeskNow): string {
  if (list.length === 0) return 'no approval requests\n';
  const at = (d: Date | undefined) => (d ? `${d.toISOString()} (${age(d, desk.now)}${desk.inline})` : '-');
  return list
    .map((a) => {
      const lines = [`${a.id}  ${a.state.toUpperCase()}  ${a.actionWords || a.action} on ${a.hostIds.join(', ')}${a.incidentId ? ` (incident ${a.incidentId})` : ''}`];
      lines.push(`  requested by ${a.requestedBy} at ${at(a.requestedAt)}: ${oneLine(a.reason)}`);
      if (a.why) lines.push(`  a second operator is needed: ${oneLine(a.why)}`);
      if (a.state === 'approved') lines.push(`  approved by ${a.approvedBy} at ${at(a.decidedAt)}`);
      else if (a.state === 'rejected') lines.push(`  rejected by ${a.approvedBy} at ${at(a.decidedAt)}${a.decisionReason ? `: ${oneLine(a.decisionReason)}` : ''}`);
      else if (a.state === 'expired') lines.push(`  expired at ${at(a.expiresAt)}: nobody decided in time`);
      else if (a.expiresAt) lines.push(`  expires ${a.expiresAt.toISOString()} (${dueIn(a.expiresAt, desk.now)}${desk.inline}) unless another operator decides`);
      return lines.join('\n') + '\n';
    })
    .join('\n');
}
