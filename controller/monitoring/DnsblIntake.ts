import type { Logger } from '../../proto/runtime/logger.js';
import type { Authentication } from '../intake/trust/Authentication.js';
import type { ComplaintInput, SubmitResult } from '../services/IncidentService.js';
import type { Store } from '../store/Store.js';
import { describeListing } from './dnsbl/describeListing.js';
import { dnsblQueryName } from './dnsbl/dnsblQueryName.js';
import type { DnsblZone } from './dnsbl/DnsblZone.js';
import {
  DNSBL_AUDIT_SUBJECT,
  DNSBL_DELISTED,
  DNSBL_FILED,
  foldDnsblFilings,
  pairKey,
  type DelistedDetail,
  type FiledDetail,
  type FiledListing,
} from './dnsbl/foldDnsblFilings.js';
import type { Delisting, Listing, ReportedListing } from './dnsbl/Listing.js';
import { mainCategory, readReturnCodes } from './dnsbl/readReturnCodes.js';

export interface DnsblIntakeDeps {
  store: Store;
  /** Routes the complaint as any other (IncidentService.submitComplaint): merged into the host's open incident of its category, or a new one. */
  submit: (input: ComplaintInput, actor: string) => Promise<SubmitResult>;
  /** Whether the policy trusts reporter kind own_monitoring. */
  trusted: boolean;
  /** The validated zones, for what each code means. */
  zones: readonly DnsblZone[];
  /** The incident clock: when filings and delistings are recorded. */
  clock: () => Date;
  log: Logger;
}

/** The incident event a delisting is noted as (the desk's history and `cordonctl incident show` list it). */
export const DNSBL_DELISTED_EVENT = 'dnsbl_delisted';

const PAGE = 1000;

/**
 * Turns the DNSBL monitor's findings into due process: a new listing of one
 * of our addresses becomes a complaint from the provider's own monitoring
 * (reporter `dnsbl:<zone>`, kind own_monitoring), routed like any other;
 * its end is noted on the incident(s) its complaints went to, whose state
 * it never changes.
 *
 * What was filed is kept in the audit log (subject `dnsbl`: one entry per
 * filing, one per delisting), read back before the monitor's first check
 * (`reported`), so a restart files nothing again and still notices a
 * delisting that happened while the controller was down. A listing already
 * filed and still standing is never filed again, whatever the monitor
 * says; a listing after its delisting is a new episode and is filed.
 * Each filing carries a Message-ID made of its episode, codes, address and
 * zone: a filing repeated because the controller stopped between filing
 * and recording it (or two replicas filing at once) is a `duplicate`
 * complaint, which opens, merges and restarts nothing.
 */
export class DnsblIntake {
  private readonly zones: Map<string, DnsblZone>;

  constructor(private readonly deps: DnsblIntakeDeps) {
    this.zones = new Map(deps.zones.map((z) => [z.zone, z]));
  }

  /** The listings filed and still standing, for DnsblMonitorDeps.reported. */
  async reported(): Promise<ReportedListing[]> {
    return [...(await this.filings()).values()]
      .filter((f) => f.delistedAt === undefined)
      .map((f) => ({ zone: f.zone, ip: f.ip, codes: f.codes, lists: f.lists, since: f.since }));
  }

  /**
   * Files a new listing as a complaint, unless every reportable code of it
   * was already filed in its standing episode. Resolves with the complaint's
   * outcome, or undefined when nothing was filed. A throw (the store) makes
   * the monitor offer it again at the next check.
   */
  async onListed(l: Listing): Promise<SubmitResult | undefined> {
    const log = this.deps.log.child({ host: l.hostId, ip: l.ip, zone: l.zone });
    const zone = this.zones.get(l.zone);
    if (!zone) {
      log.warn('dnsbl listing on a zone not configured: not filed');
      return undefined;
    }
    const filed = (await this.filings()).get(pairKey(l.zone, l.ip));
    const standing = filed && filed.delistedAt === undefined ? filed : undefined;
    const reportable = readReturnCodes(l.codes, zone).reportable;
    const filing = reportable.filter((m) => !standing?.codes.includes(m.code));
    if (filing.length === 0) {
      log.info({ lists: l.lists, episode: standing?.episode }, 'dnsbl listing already filed (before a restart, or by another replica): not filed again');
      return undefined;
    }
    const episode = standing ? standing.episode : (filed?.episode ?? 0) + 1;
    const codes = filing.map((m) => m.code);
    const category = mainCategory(filing);
    const evidence = describeListing(l, zone, codes);
    const reasons = l.reasons.join(' | ');
    const authentication: Authentication = {
      trusted: this.deps.trusted,
      via: 'dnsbl',
      reporterKind: 'own_monitoring',
      reason: `listed on ${l.zone} (${l.lists.join(', ')}) when Cordon asked about ${l.ip}${this.deps.trusted ? '' : ', a kind the policy does not trust'}`,
      checks: [{ method: 'dns', result: l.codes.join(', '), domain: l.zone, detail: reasons || 'no reason given (no TXT record)' }],
    };
    const actor = `dnsbl:${l.zone}`;
    const result = await this.deps.submit(
      {
        ip: l.ip,
        category: category === 'unknown' || category === 'ignore' ? 'other' : category,
        reporter: actor,
        reporterKind: 'own_monitoring',
        eventTime: l.checkedAt,
        evidence,
        excerpt: evidence,
        raw: JSON.stringify({ zone: l.zone, ip: l.ip, host: l.hostId, query: dnsblQueryName(l.ip, l.zone), codes: l.codes, reasons: l.reasons, checkedAt: l.checkedAt }, null, 2),
        authentication,
        messageId: `<dnsbl.${episode}.${codes.join('+')}.${l.ip}@${l.zone}>`,
      },
      actor,
    );
    const detail: FiledDetail = {
      zone: l.zone,
      ip: l.ip,
      host: l.hostId,
      episode,
      codes,
      lists: l.lists,
      checkedAt: l.checkedAt.toISOString(),
      complaint: result.complaintId,
      incident: result.incidentId ?? null,
      outcome: result.outcome,
    };
    await this.deps.store.audit.append({ at: this.deps.clock(), actor, action: DNSBL_FILED, subject: DNSBL_AUDIT_SUBJECT, detail });
    log.info({ lists: l.lists, codes, episode, outcome: result.outcome, incident: result.incidentId, complaint: result.complaintId }, 'dnsbl listing filed as a complaint from own monitoring');
    return result;
  }

  /**
   * Notes a delisting on every incident the standing episode's complaints
   * went to (an incident event, state unchanged) and ends the episode, in
   * one transaction; nothing when no episode stands (another replica noted
   * it). A throw makes the monitor offer it again at the next check.
   */
  async onDelisted(d: Delisting): Promise<void> {
    const { store } = this.deps;
    const actor = `dnsbl:${d.zone}`;
    const noted = await store.db.transaction(async () => {
      const filed = (await this.filings()).get(pairKey(d.zone, d.ip));
      if (!filed || filed.delistedAt !== undefined) return undefined;
      const now = this.deps.clock();
      const incidents = await this.incidentsOf(filed);
      const note = `${d.ip} is no longer listed on ${d.zone} (${filed.lists.join(', ') || d.lists.join(', ')}) as of ${d.checkedAt.toISOString()}. Noted only: the incident's state is unchanged.`;
      for (const id of incidents) {
        const i = await store.incidents.get(id);
        if (!i) continue;
        await store.events.append({
          incidentId: id,
          at: now,
          type: DNSBL_DELISTED_EVENT,
          fromState: i.state,
          toState: i.state,
          actor,
          detail: { note, ip: d.ip, zone: d.zone, lists: filed.lists, codes: filed.codes, listedSince: filed.since, checkedAt: d.checkedAt, complaints: filed.complaints.map((c) => c.complaintId) },
        });
      }
      const detail: DelistedDetail = { zone: d.zone, ip: d.ip, host: d.hostId, episode: filed.episode, codes: filed.codes, lists: filed.lists, checkedAt: d.checkedAt.toISOString(), incidents };
      await store.audit.append({ at: now, actor, action: DNSBL_DELISTED, subject: DNSBL_AUDIT_SUBJECT, detail });
      return { incidents, episode: filed.episode };
    });
    if (noted) this.deps.log.info({ host: d.hostId, ip: d.ip, zone: d.zone, lists: d.lists, ...noted }, 'dnsbl delisting noted on its incidents');
    else this.deps.log.debug({ host: d.hostId, ip: d.ip, zone: d.zone }, 'dnsbl delisting of nothing filed: nothing to note');
  }

  /** The incidents the episode's complaints are linked to now (the complaint's own link wins over what was recorded). */
  private async incidentsOf(filed: FiledListing): Promise<string[]> {
    const ids = new Set<string>();
    for (const c of filed.complaints) {
      const stored = c.complaintId ? await this.deps.store.complaints.get(c.complaintId) : undefined;
      const id = stored?.incidentId ?? c.incidentId;
      if (id) ids.add(id);
    }
    return [...ids];
  }

  /** Every filing's state, from the audit log. */
  private async filings(): Promise<Map<string, FiledListing>> {
    const entries: { action: string; detail: unknown }[] = [];
    for (let afterId = 0; ; ) {
      const page = await this.deps.store.audit.list({ subject: DNSBL_AUDIT_SUBJECT, afterId, limit: PAGE });
      entries.push(...page);
      if (page.length < PAGE) return foldDnsblFilings(entries);
      afterId = page.at(-1)!.id;
    }
  }
}
