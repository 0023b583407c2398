import type { ReporterKind } from '../../incidents/model.js';
import { unauthenticated, type AuthCheck, type Authentication } from './Authentication.js';
import type { DkimCheck, MailChecks } from './MailChecks.js';
import { reporterOfDomain, type RegisteredReporter } from './RegisteredReporter.js';

export interface TrustInput {
  mail: MailChecks;
  registry: readonly RegisteredReporter[];
  /** The policy's trusted kinds (PolicyConfig.trustedReporterKinds). */
  trustedKinds: readonly ReporterKind[];
}

/**
 * Decides who a mail is from and whether that is believed. Pure.
 *
 * Authenticated as a registered reporter only by
 * - DKIM: a signature that verifies, covers the whole body (no l= with
 *   content after it), whose d= is aligned (relaxed) with the single From
 *   domain, that domain (or its organisational domain) being a registered
 *   reporter's; or
 * - ARC: the chain validates, its latest seal is a registered ARC
 *   forwarder's, and that hop recorded dmarc=pass for this From domain,
 *   which is a registered reporter's.
 * Then it is trusted when the reporter's kind is in `trustedKinds`; a
 * registered reporter of another kind (a rights holder) is authenticated
 * but not trusted. Anything else is untrusted, with the reason. The message
 * format plays no part.
 */
export function decideTrust({ mail, registry, trustedKinds }: TrustInput): Authentication {
  const checks = describeMail(mail);
  const untrusted = (reason: string) => unauthenticated(reason, checks);

  if (mail.fromHeaders !== 1) {
    return untrusted(
      mail.fromHeaders === 0
        ? 'no From header: there is no author to authenticate'
        : `${mail.fromHeaders} From headers: a second From is a replay trick (a signature covers one, a reader sees the other)`,
    );
  }
  if (mail.fromDomains.length !== 1) return untrusted(`the From header names ${mail.fromDomains.length} addresses; authentication needs exactly one author`);
  const from = mail.fromDomains[0]!;
  const fromReporter = reporterOfDomain(registry, from, mail.fromOrgDomain);

  const byDkim = dkimPath(mail.dkim, from, checks);
  if (byDkim.signature) {
    if (!fromReporter) {
      checks.push({ method: 'registry', result: 'fail', domain: from, detail: 'no registered reporter has this domain' });
      return untrusted(`DKIM d=${byDkim.signature.domain} verifies and is aligned, but ${from} is not a registered reporter's domain`);
    }
    return authenticated(fromReporter, 'dkim', from, `an aligned DKIM signature of d=${byDkim.signature.domain}`, checks, trustedKinds);
  }
  if (mail.arc.result === 'none') return untrusted(byDkim.reason);
  const byArc = arcPath(mail, from, fromReporter, registry, checks);
  if (byArc.forwarder) return authenticated(fromReporter!, 'arc', from, `the ARC seal of forwarder ${byArc.forwarder.id} (dmarc=pass recorded for ${from})`, checks, trustedKinds);
  return untrusted(`${byDkim.reason}; ARC: ${byArc.reason}`);
}

/** The first signature that authenticates From, or why none does. */
function dkimPath(sigs: readonly DkimCheck[], from: string, checks: AuthCheck[]): { signature?: DkimCheck; reason: string } {
  if (sigs.length === 0) return { reason: 'the message carries no DKIM signature' };
  const verified = sigs.filter((s) => s.result === 'pass');
  if (verified.length === 0) return { reason: `DKIM d=${sigs[0]!.domain}: ${dkimFailure(sigs[0]!)}` };
  const whole = verified.filter((s) => s.unsignedBytes === 0);
  if (whole.length === 0) {
    const s = verified[0]!;
    checks.push({ method: 'dkim', result: 'policy', domain: s.domain, detail: `l= leaves ${s.unsignedBytes} bytes of the body unsigned` });
    return { reason: `DKIM d=${s.domain} signs only part of the body (l=): ${s.unsignedBytes} bytes after it are not covered` };
  }
  const aligned = whole.find((s) => s.aligned);
  if (!aligned) {
    const s = whole[0]!;
    checks.push({ method: 'alignment', result: 'fail', domain: s.domain, detail: `d=${s.domain} is not aligned with From ${from}` });
    return { reason: `DKIM d=${s.domain} verifies but is not aligned with the From domain ${from}` };
  }
  checks.push({ method: 'alignment', result: 'pass', domain: aligned.domain, detail: `d=${aligned.domain} is aligned with From ${from}` });
  return { signature: aligned, reason: '' };
}

function dkimFailure(s: DkimCheck): string {
  if (s.comment === 'body hash did not verify') return 'body hash did not verify (the body changed after signing)';
  if (s.result === 'fail') return 'signature did not verify (signed headers changed after signing)';
  return `${s.result}${s.comment ? ` (${s.comment})` : ''}`;
}

/** The registered forwarder whose seal vouches for From, or why none does. */
function arcPath(
  mail: MailChecks,
  from: string,
  fromReporter: RegisteredReporter | undefined,
  registry: readonly RegisteredReporter[],
  checks: AuthCheck[],
): { forwarder?: RegisteredReporter; reason: string } {
  const arc = mail.arc;
  if (arc.result !== 'pass') return { reason: `the chain does not validate (${arc.result}${arc.detail ? `: ${arc.detail}` : ''})` };
  const sealer = arc.sealer ?? '';
  const owner = registry.find((r) => r.domains.includes(sealer));
  if (!owner?.arcForwarder) {
    checks.push({ method: 'registry', result: 'fail', domain: sealer, detail: owner ? `reporter ${owner.id} is not registered as an ARC forwarder` : 'no registered reporter has this domain' });
    return { reason: `sealer ${sealer} is not a registered ARC forwarder` };
  }
  checks.push({ method: 'registry', result: 'pass', domain: sealer, detail: `ARC forwarder ${owner.id}` });
  if (arc.dmarc !== 'pass') return { reason: `forwarder ${sealer} recorded dmarc=${arc.dmarc ?? 'none'}, not pass` };
  const vouched = arc.dmarcFrom?.toLowerCase();
  if (vouched !== from && vouched !== mail.fromOrgDomain) return { reason: `forwarder ${sealer} recorded dmarc=pass for ${vouched ?? 'no domain'}, not for From ${from}` };
  if (!fromReporter) {
    checks.push({ method: 'registry', result: 'fail', domain: from, detail: 'no registered reporter has this domain' });
    return { reason: `${from} is not a registered reporter's domain` };
  }
  return { forwarder: owner, reason: '' };
}

function authenticated(
  reporter: RegisteredReporter,
  via: 'dkim' | 'arc',
  domain: string,
  how: string,
  checks: AuthCheck[],
  trustedKinds: readonly ReporterKind[],
): Authentication {
  const trusted = trustedKinds.includes(reporter.kind);
  checks.push({
    method: 'registry',
    result: trusted ? 'pass' : 'policy',
    domain,
    detail: trusted ? `reporter ${reporter.id} (${reporter.kind})` : `reporter ${reporter.id} is ${reporter.kind}; the policy trusts ${trustedKinds.join(', ') || 'no kind'}`,
  });
  return {
    trusted,
    via,
    reporterId: reporter.id,
    reporterName: reporter.name,
    reporterKind: reporter.kind,
    domain,
    reason: trusted
      ? `authenticated as ${reporter.id} (${reporter.kind}) by ${how}`
      : `authenticated as ${reporter.id} by ${how}, but ${reporter.kind} is not a kind the policy trusts`,
    checks,
  };
}

/** One check per mail authentication result, in the order they were made. */
function describeMail(mail: MailChecks): AuthCheck[] {
  const checks: AuthCheck[] = [
    {
      method: 'header',
      result: mail.fromHeaders === 1 && mail.fromDomains.length === 1 ? 'pass' : 'fail',
      domain: mail.fromDomains.join(', ') || undefined,
      detail: `${mail.fromHeaders} From header${mail.fromHeaders === 1 ? '' : 's'}, ${mail.fromDomains.length} address${mail.fromDomains.length === 1 ? '' : 'es'}`,
    },
  ];
  if (mail.dkim.length === 0) checks.push({ method: 'dkim', result: 'none', detail: 'message not signed' });
  for (const s of mail.dkim) {
    const notes = [s.comment, s.result === 'pass' ? (s.aligned ? 'aligned with From' : 'not aligned with From') : undefined, s.unsignedBytes > 0 ? `${s.unsignedBytes} bytes after l=` : undefined];
    checks.push({ method: 'dkim', result: s.result, domain: s.domain, detail: [`s=${s.selector}`, ...notes].filter(Boolean).join('; ') });
  }
  checks.push({ method: 'spf', result: mail.spf.result, domain: mail.spf.domain, detail: mail.spf.detail });
  checks.push(
    mail.dmarc
      ? { method: 'dmarc', result: mail.dmarc.result, domain: mail.dmarc.domain, detail: mail.dmarc.detail ?? (mail.dmarc.policy ? `p=${mail.dmarc.policy}` : undefined) }
      : { method: 'dmarc', result: 'none', detail: 'not evaluated: the message has no single From domain' },
  );
  const arcDetail = [mail.arc.instance ? `i=${mail.arc.instance}` : undefined, mail.arc.dmarc ? `recorded dmarc=${mail.arc.dmarc} for ${mail.arc.dmarcFrom ?? '?'}` : undefined, mail.arc.detail];
  checks.push({ method: 'arc', result: mail.arc.result, domain: mail.arc.sealer, detail: arcDetail.filter(Boolean).join('; ') || (mail.arc.result === 'none' ? 'no ARC chain' : undefined) });
  return checks;
}
