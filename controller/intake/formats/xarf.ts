import { declinedReason, declineWith } from '../declineWith.js';
import type { FormatParser, MessagePart, ParsedComplaint, ParsedMessage } from '../types.js';
import { readXarfJson, xarfJsonReports } from './xarfJson.js';
import { readXarfYaml, readXarfYamlReport } from './xarfYaml.js';

/**
 * Whether the message says it is X-ARF, so that an unreadable report is
 * "X-ARF without a usable offender" ([]) rather than "not X-ARF"
 * (undefined): the `X-ARF: YES` header of 0.1/0.2 (`X-XARF: PLAIN|SECURE`
 * for pyxarf), an ARF wrapper with `Feedback-Type: xarf` (Netcraft), or an
 * attachment named xarf*.json.
 */
function isFlagged(message: ParsedMessage): boolean {
  if (message.headers.has('x-arf') || message.headers.has('x-xarf')) return true;
  return message.parts.some(
    (p) =>
      (p.contentType === 'message/feedback-report' && /^feedback-type:[ \t]*xarf\b/im.test(p.content.toString('utf8'))) ||
      /^xarf.*\.json$/i.test(p.filename ?? ''),
  );
}

function isJsonPart(part: MessagePart, flagged: boolean): boolean {
  if (part.contentType.includes('json') || /\.json$/i.test(part.filename ?? '')) return true;
  // Some senders attach the JSON report as text/plain.
  return flagged && part.contentType.startsWith('text/') && part.content.toString('utf8', 0, 64).trimStart().startsWith('{');
}

/** X-ARF JSON reports in the message's JSON parts (or the bare JSON file). Unparseable JSON yields none. */
function readJsonReports(message: ParsedMessage, flagged: boolean): ParsedComplaint[] | undefined {
  let found = false;
  let reason: string | undefined;
  const complaints: ParsedComplaint[] = [];
  for (const part of message.parts.filter((p) => isJsonPart(p, flagged))) {
    let doc: unknown;
    try {
      doc = JSON.parse(part.content.toString('utf8').replace(/^\uFEFF/, ''));
    } catch {
      continue;
    }
    for (const report of xarfJsonReports(doc)) {
      found = true;
      const read = readXarfJson(report, message);
      reason ??= declinedReason(read);
      complaints.push(...read);
    }
  }
  if (!found) return undefined;
  return complaints.length === 0 && reason ? declineWith(reason) : complaints;
}

/**
 * The 0.1/0.2 YAML report: the part named report.txt first (the spec's
 * second MIME part), then other text parts, then the body text where
 * mailparser put unnamed inline parts. Read only in X-ARF mails or when a
 * part carries the report's own marker fields, so plain complaints that
 * merely say "Source: …" are left to their parser.
 */
function readYamlReports(message: ParsedMessage, flagged: boolean): ParsedComplaint[] | undefined {
  const textParts = message.parts.filter((p) => /^text\/(plain|yaml|x-yaml)|yaml/.test(p.contentType));
  const marked =
    textParts.some((p) => /^(Reported-From|Schema-URL):/m.test(p.content.toString('utf8'))) ||
    /^Schema-URL:.*x-arf/im.test(message.text);
  if (!flagged && !marked) return undefined;
  const ordered = [...textParts].sort((a, b) => Number(b.filename === 'report.txt') - Number(a.filename === 'report.txt'));
  for (const candidate of [...ordered.map((p) => ({ part: p, text: p.content.toString('utf8') })), { part: undefined, text: message.text }]) {
    const report = readXarfYamlReport(candidate.text);
    if (!report) continue;
    // The third part (RFC-agnostic X-ARF convention) is the evidence: name it, never read IPs from it.
    const evidenceFile = message.parts.find((p) => p !== candidate.part && p.filename && p.filename !== 'report.txt')?.filename;
    return readXarfYaml(report, message, evidenceFile);
  }
  return undefined;
}

function parseXarf(message: ParsedMessage): ParsedComplaint[] | undefined {
  const flagged = isFlagged(message);
  return readJsonReports(message, flagged) ?? readYamlReports(message, flagged) ?? (flagged ? [] : undefined);
}

/**
 * X-ARF in all its generations: 0.1/0.2 mails (`X-ARF: YES`, YAML report
 * part), abusix JSON v1–v3 and xarf-spec v4 JSON, attached (also inside an
 * ARF `Feedback-Type: xarf` wrapper) or as a bare file. Returns undefined
 * when the message is not X-ARF, [] when it is but no report names a source
 * address (malformed JSON/YAML included). Never throws.
 */
export const xarfParser: FormatParser = {
  name: 'xarf',
  parse(message) {
    try {
      return parseXarf(message);
    } catch {
      try {
        return isFlagged(message) ? [] : undefined;
      } catch {
        return undefined;
      }
    }
  },
};
