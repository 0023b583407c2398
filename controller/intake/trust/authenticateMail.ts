import type { AuthenticateResult, DNSResolver } from 'mailauth';
import { looksLikeMail } from '../readMessage.js';
import type { MailChecks } from './MailChecks.js';

export interface MailAuthOptions {
  /** Answers DNS questions (createDnsResolver.ts); mailauth asks for DKIM keys, DMARC and SPF records. */
  resolver: DNSResolver;
  /** The connecting client's address, when the mail came straight from SMTP; only then is SPF checked. */
  clientIp?: string | undefined;
  /** Its HELO name and MAIL FROM, with clientIp. */
  helo?: string | undefined;
  sender?: string | undefined;
}

const NO_CLIENT_IP = 'not checked: no client IP (the report was relayed by a maildir or an operator, not received over SMTP)';

/**
 * Runs DKIM, ARC and DMARC (and SPF when the client IP is known) on a mail
 * with mailauth, and returns what trust is decided on. Undefined when the
 * bytes are not a mail (a bare CSV or JSON file): there is nothing to
 * authenticate. Never believes Received headers (`trustReceived` stays off:
 * anyone can write them). Throws only on an internal mailauth failure.
 */
export async function authenticateMail(raw: Buffer, opts: MailAuthOptions): Promise<MailChecks | undefined> {
  if (!looksLikeMail(raw)) return undefined;
  // Loaded on first use: mailauth (with joi and the public suffix list) takes about a second to load, which every cordonctl command would pay.
  const { authenticate } = await import('mailauth');
  const r = await authenticate(raw, {
    resolver: opts.resolver,
    mta: 'cordon',
    disableBimi: true,
    ...(opts.clientIp ? { ip: opts.clientIp, helo: opts.helo, sender: opts.sender } : {}),
  });
  return toMailChecks(r, opts.clientIp !== undefined);
}

/** The plain-data view of mailauth's result (see MailChecks). */
export function toMailChecks(r: AuthenticateResult, spfChecked: boolean): MailChecks {
  const fromHeaders = (r.dkim.headers?.parsed ?? []).filter((h) => h.key === 'from').length;
  const fromDomains = (r.dkim.headerFrom ?? []).map((a) => a.slice(a.lastIndexOf('@') + 1).trim().toLowerCase());
  const dkim = (r.dkim.results ?? [])
    .filter((s) => s.signingDomain)
    .map((s) => ({
      domain: s.signingDomain.toLowerCase(),
      selector: s.selector ?? '',
      result: s.status.result,
      comment: s.status.comment || undefined,
      aligned: Boolean(s.status.aligned),
      unsignedBytes: typeof s.status.underSized === 'number' ? s.status.underSized : 0,
    }));
  const spf =
    spfChecked && r.spf
      ? { result: r.spf.status.result, domain: r.spf.domain, detail: r.spf.status.comment || undefined }
      : { result: 'none', detail: NO_CLIENT_IP };
  const dmarc = r.dmarc
    ? { result: r.dmarc.status.result, domain: r.dmarc.domain, policy: r.dmarc.policy || undefined, detail: r.dmarc.status.comment || undefined }
    : undefined;
  const arc = r.arc || undefined;
  // mailauth's chain is `false` when the message has none.
  const lastSeal = Array.isArray(arc?.chain) ? arc.chain.at(-1)?.['arc-seal']?.parsed : undefined;
  const aar = arc?.authenticationResults as { dmarc?: { result?: string; header?: { from?: string } } } | undefined;
  const arcResult = arc?.status.result ?? 'none';
  return {
    fromHeaders,
    fromDomains,
    fromOrgDomain: r.dmarc ? r.dmarc.domain?.toLowerCase() : undefined,
    dkim,
    spf,
    dmarc,
    arc: {
      result: arcResult,
      detail: arcResult === 'pass' ? undefined : arc?.status.comment || undefined,
      sealer: typeof lastSeal?.d?.value === 'string' ? lastSeal.d.value.toLowerCase() : undefined,
      instance: typeof arc?.i === 'number' && arc.i > 0 ? arc.i : undefined,
      dmarc: aar?.dmarc?.result,
      dmarcFrom: aar?.dmarc?.header?.from?.toLowerCase(),
    },
  };
}
