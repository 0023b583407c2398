import type { ComplaintRecord } from '../../proto/gen/cordon/v1/desk.js';
import type { DeskNow } from './deskNow.js';
import { age, oneLine, printable } from './table.js';

/** Lines of evidence shown per complaint; the rest is counted, and `--raw` shows the report whole. */
const EVIDENCE_LINES = 12;

/** Who reported, whether believed, and by which check, in one line: "spamcop (upstream), trusted via dkim: spamcop". */
export function reporterLine(c: ComplaintRecord): string {
  let via = '';
  let reporterId = '';
  try {
    const a = JSON.parse(c.authentication) as { via?: string; reporterId?: string };
    via = a.via ?? '';
    reporterId = a.reporterId ?? '';
  } catch {
    // An unreadable record reads as "not said", never as trusted on its own.
  }
  const how = via && via !== 'none' ? ` via ${oneLine(via)}${reporterId ? `: ${oneLine(reporterId)}` : ''}` : ', not authenticated';
  return `${oneLine(c.reporter) || 'anonymous'} (${oneLine(c.reporterKind) || '?'}), ${c.trusted ? 'trusted' : 'untrusted'}${how}`;
}

/**
 * An incident's complaints for `incident show`: each with its reporter line
 * and the evidence the customer is shown (the excerpt, else the evidence
 * pointer), never the raw report, which `--raw COMPLAINT` prints on request.
 */
export function renderComplaints(list: ComplaintRecord[], desk: DeskNow): string {
  const parts = [`\ncomplaints (${list.length}):\n`];
  if (list.length === 0) parts.push('  none\n');
  for (const c of list) {
    parts.push(`  ${c.id}  ${c.category} from ${c.ip}  received ${c.receivedAt?.toISOString() ?? '-'} (${age(c.receivedAt, desk.now)}${desk.inline})  ${c.status}${c.reason ? `: ${oneLine(c.reason)}` : ''}\n`);
    parts.push(`    reported by ${reporterLine(c)}${!c.eventTime ? '' : c.eventTimeSource === 'receipt' ? `; dated ${c.eventTime.toISOString()} (receipt time: the report states no event time)` : `; event at ${c.eventTime.toISOString()}`}\n`);
    const evidence = printable((c.excerpt || c.evidence).replace(/\r\n?/g, '\n')).trim();
    if (!evidence) {
      parts.push('    evidence: none given\n');
      continue;
    }
    const lines = evidence.split('\n');
    parts.push(lines.slice(0, EVIDENCE_LINES).map((l) => `    | ${l}`).join('\n') + '\n');
    if (lines.length > EVIDENCE_LINES) parts.push(`    | … ${lines.length - EVIDENCE_LINES} more lines (cordonctl incident show ID --raw ${c.id})\n`);
  }
  return parts.join('');
}

/** A raw report for the terminal: line endings made plain, every other control character shown as "?". */
export function renderRaw(raw: string): string {
  const text = printable(raw.replace(/\r\n/g, '\n'));
  return text.endsWith('\n') ? text : `${text}\n`;
}
