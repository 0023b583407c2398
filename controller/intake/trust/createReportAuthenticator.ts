import type { DNSResolver } from 'mailauth';
import { asCordonError } from '../../../proto/runtime/CordonError.js';
import type { Logger } from '../../../proto/runtime/logger.js';
import type { ReporterKind } from '../../incidents/model.js';
import { unauthenticated, type AuthCheck, type AuthenticateReport, type Authentication, type IntakeChannel } from './Authentication.js';
import { authenticateMail } from './authenticateMail.js';
import { createDnsResolver } from './createDnsResolver.js';
import { decideTrust } from './decideTrust.js';
import type { RegisteredReporter } from './RegisteredReporter.js';

export interface ReportAuthenticatorOptions {
  /** The registry (store.reporters.list). */
  listReporters: () => Promise<RegisteredReporter[]>;
  /** PolicyConfig.trustedReporterKinds. */
  trustedKinds: readonly ReporterKind[];
  /** DNS servers for mail authentication ("127.0.0.1:5353"); the system resolver when absent or empty. */
  dnsServers?: readonly string[] | undefined;
  /** Replaces the DNS resolver entirely (tests). */
  resolver?: DNSResolver | undefined;
  /** How long a read of the registry is reused; at most 5 s. */
  cacheMs?: number | undefined;
  /** The wall clock, for the cache (tests). */
  now?: () => number;
  log: Logger;
}

/** An AuthenticateReport whose registry cache can be dropped (after a reporter is added or removed). */
export type ReportAuthenticator = AuthenticateReport & { invalidate(): void };

const MAX_CACHE_MS = 5_000;

/**
 * Builds the intake's AuthenticateReport. A feed's channel (its client
 * certificate) vouches for the report: it is the registered reporter whose
 * `feed` is that name, without mail checks. A relay (an operator, a maildir)
 * vouches for nothing: the mail's own DKIM/ARC/DMARC and the registry decide
 * (decideTrust). Never throws for a bad report; throws only when the
 * registry cannot be read (the store's error, so the intake can retry).
 *
 * The registry is read at most once per `cacheMs`; call `invalidate()` when
 * it changes (store.reporters.onChange).
 */
export function createReportAuthenticator(opts: ReportAuthenticatorOptions): ReportAuthenticator {
  const resolver = opts.resolver ?? createDnsResolver(opts.dnsServers);
  const cacheMs = Math.min(opts.cacheMs ?? 2_000, MAX_CACHE_MS);
  const now = opts.now ?? Date.now;
  let cached: { at: number; list: Promise<RegisteredReporter[]> } | undefined;

  const registry = (): Promise<RegisteredReporter[]> => {
    if (!cached || now() - cached.at >= cacheMs) {
      const list = opts.listReporters();
      cached = { at: now(), list };
      // A failed read is not cached: the next report asks again.
      list.catch(() => {
        if (cached?.list === list) cached = undefined;
      });
    }
    return cached.list;
  };

  const authenticateReport = async (raw: Buffer, channel: IntakeChannel): Promise<Authentication> => {
    const reporters = await registry();
    if (channel.kind === 'feed') return byFeed(channel.feed, reporters, opts.trustedKinds);
    const relayed: AuthCheck = { method: 'channel', result: 'none', detail: `relayed by ${channel.actor}: the channel does not vouch for the report` };
    let mail;
    try {
      mail = await authenticateMail(raw, { resolver });
    } catch (err) {
      const e = asCordonError(err);
      opts.log.warn({ err: e.message, actor: channel.actor }, 'mail authentication failed; the report stays untrusted');
      return unauthenticated(`mail authentication failed: ${e.message}`, [relayed]);
    }
    if (!mail) return unauthenticated('not a mail: nothing to authenticate', [relayed]);
    const decided = decideTrust({ mail, registry: reporters, trustedKinds: opts.trustedKinds });
    return { ...decided, checks: [relayed, ...decided.checks] };
  };

  return Object.assign(authenticateReport, {
    invalidate: () => {
      cached = undefined;
    },
  });
}

/** A report a feed's certificate submitted: the registered reporter with that feed, or nobody. */
export function byFeed(feed: string, registry: readonly RegisteredReporter[], trustedKinds: readonly ReporterKind[]): Authentication {
  const channel: AuthCheck = { method: 'channel', result: 'pass', detail: `client certificate urn:cordon:feed:${feed}` };
  const reporter = registry.find((r) => r.feed === feed);
  if (!reporter) {
    return unauthenticated(`feed ${feed} is not a registered reporter's feed`, [channel, { method: 'registry', result: 'fail', detail: `no registered reporter has feed ${feed}` }]);
  }
  const trusted = trustedKinds.includes(reporter.kind);
  return {
    trusted,
    via: 'feed',
    reporterId: reporter.id,
    reporterName: reporter.name,
    reporterKind: reporter.kind,
    reason: trusted
      ? `authenticated as ${reporter.id} (${reporter.kind}) by its feed certificate`
      : `authenticated as ${reporter.id} by its feed certificate, but ${reporter.kind} is not a kind the policy trusts`,
    checks: [channel, { method: 'registry', result: trusted ? 'pass' : 'policy', detail: `reporter ${reporter.id} (${reporter.kind}) has feed ${feed}` }],
  };
}
