/** How a complaint was authenticated, as sentences an operator reads; the JSON stays available beside it. */
export interface AuthenticationWords {
  /** One sentence: trusted as whom and by what, or not. */
  verdict: string;
  /** Why, as the trust decision said it ('' when it said nothing). */
  reason: string;
  /** One sentence per check, in the order made: "DKIM: pass for d=example.net". */
  checks: string[];
  /** The record pretty-printed (or as stored, when it cannot be read). */
  json: string;
}

const VIA: Record<string, string> = {
  dkim: 'a DKIM signature aligned with the From domain',
  arc: 'an ARC seal of a trusted forwarder',
  operator: "an operator's certificate (the operator vouches for the report)",
  feed: "the reporter's feed certificate",
  agent: "the host's own Cordon agent, over its certificate (the provider's own monitoring)",
  dnsbl: "a DNS blocklist's answer to Cordon's own query about the address (the provider's own monitoring; the list's reason is in the check below)",
  alert: "a detector's alert (CrowdSec, FastNetMon) sent with its own token to the alerts listener (the provider's own monitoring; the source is in the check below)",
};

/** Acronyms stay acronyms; other methods (registry, channel, alignment, header) read as words. */
const ACRONYMS = new Set(['dkim', 'spf', 'dmarc', 'arc', 'arf', 'smime', 'pgp', 'dns']);

type Check = { method?: unknown; result?: unknown; domain?: unknown; detail?: unknown };
type Record_ = { trusted?: unknown; via?: unknown; reporterId?: unknown; reporterName?: unknown; reporterKind?: unknown; domain?: unknown; reason?: unknown; checks?: unknown };

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

function checkWords(c: Check): string {
  const method = str(c.method) || 'check';
  const name = ACRONYMS.has(method.toLowerCase()) ? method.toUpperCase() : `${method.charAt(0).toUpperCase()}${method.slice(1)}`;
  const domain = str(c.domain);
  const about = domain ? (method.toLowerCase() === 'dkim' ? ` for d=${domain}` : ` for ${domain}`) : '';
  const detail = str(c.detail);
  return `${name}: ${str(c.result) || 'no result'}${about}${detail ? ` (${detail})` : ''}`;
}

/**
 * The complaint's `authentication` (JSON, intake/trust/Authentication.ts) in
 * words. Pure and total: a record this version cannot read says so, and is
 * never read as trusted.
 */
export function authenticationWords(json: string): AuthenticationWords {
  let a: Record_;
  try {
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    a = parsed as Record_;
  } catch {
    return { verdict: 'The authentication record cannot be read; the complaint counts as not authenticated.', reason: '', checks: [], json };
  }
  const pretty = JSON.stringify(a, null, 2);
  if (Object.keys(a).length === 0) return { verdict: 'No authentication was recorded for this complaint.', reason: '', checks: [], json: pretty };
  const checks = Array.isArray(a.checks) ? a.checks.filter((c): c is Check => typeof c === 'object' && c !== null).map(checkWords) : [];
  const via = VIA[str(a.via)];
  const id = [str(a.reporterId), str(a.reporterKind)].filter(Boolean).join(', ');
  const who = str(a.reporterName) ? `${str(a.reporterName)}${id ? ` (${id})` : ''}` : str(a.reporterId) ? `${str(a.reporterId)}${str(a.reporterKind) ? ` (${str(a.reporterKind)})` : ''}` : str(a.reporterKind) ? `a reporter of kind ${str(a.reporterKind)}` : '';
  let verdict: string;
  if (a.trusted === true) verdict = `Trusted: authenticated as ${who || 'a registered reporter'} by ${via ?? (str(a.via) || 'an unnamed check')}.`;
  else if (via) verdict = `Authenticated by ${via}${who ? ` as ${who}` : ''}, but not trusted.`;
  else verdict = 'Not authenticated: no check vouched for the report.';
  return { verdict, reason: str(a.reason), checks, json: pretty };
}
