import { asCordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { ComplaintInput, SubmitResult } from '../services/IncidentService.js';
import type { AlertFiling } from './AlertFiling.js';
import type { AlertSource } from './alertsSettings.js';
import { crowdsecFiling } from './crowdsecFiling.js';
import { fastnetmonOutcome } from './fastnetmonFiling.js';
import { readCrowdsecAlerts } from './readCrowdsecAlerts.js';
import { readFastnetmonNotice } from './readFastnetmonNotice.js';

export interface AlertIntakeDeps {
  /** Routes a complaint as any other (IncidentService.submitComplaint). */
  submit: (input: ComplaintInput, actor: string) => Promise<SubmitResult>;
  /** Keeps one for an operator as needs_info (IncidentService.keepNeedsInfo). */
  keep: (input: ComplaintInput, reason: string, actor: string) => Promise<SubmitResult>;
  /** Whether the policy trusts reporter kind own_monitoring. */
  trusted: boolean;
  clock: () => Date;
  log: Logger;
}

/** What one accepted post came to. */
export interface AlertAnswer {
  complaints: { complaint: string; outcome: SubmitResult['outcome']; incident: string | null; reason: string }[];
  /** Why nothing was filed, when nothing was (an incoming attack, an unban). */
  ignored?: string;
}

/** Since the start: what the alerts became (a test and the log read them). */
export interface AlertCounts {
  filed: number;
  needsInfo: number;
  /** FastNetMon notices not filed: an incoming attack (our host the victim), an unban. */
  ignored: number;
}

/**
 * Files what the detectors send: one complaint per CrowdSec alert, one per
 * FastNetMon ban of an outgoing attack; what has no category or no single
 * address is kept as needs_info. The body is read and checked whole before
 * anything is filed, so a bad one (CordonError `invalid`) files nothing.
 */
export class AlertIntake {
  readonly counts: AlertCounts = { filed: 0, needsInfo: 0, ignored: 0 };

  constructor(private readonly deps: AlertIntakeDeps) {}

  async crowdsec(source: AlertSource & { kind: 'crowdsec' }, body: unknown): Promise<AlertAnswer> {
    const filings = readCrowdsecAlerts(body).map((a) => crowdsecFiling(a, source, this.deps.trusted));
    return { complaints: await this.file(source, filings) };
  }

  async fastnetmon(source: AlertSource & { kind: 'fastnetmon' }, body: unknown): Promise<AlertAnswer> {
    const notice = readFastnetmonNotice(body);
    const outcome = fastnetmonOutcome(notice, source, this.deps.trusted, this.deps.clock());
    if ('ignored' in outcome) {
      this.counts.ignored++;
      this.deps.log.info({ source: source.id, ip: notice.ip, direction: notice.direction, action: notice.action, pps: notice.pps, ignoredSoFar: this.counts.ignored }, `fastnetmon notice not filed: ${outcome.ignored}`);
      return { complaints: [], ignored: outcome.ignored };
    }
    return { complaints: await this.file(source, [outcome.file]) };
  }

  /** Files one by one; a store that is busy or failing throws (the detector may send again: a repeat is a duplicate). */
  private async file(source: AlertSource, filings: AlertFiling[]): Promise<AlertAnswer['complaints']> {
    const actor = `${source.kind}:${source.id}`;
    const out: AlertAnswer['complaints'] = [];
    for (const f of filings) {
      let r: SubmitResult;
      if (f.needsInfo) r = await this.deps.keep(f.input, f.needsInfo, actor);
      else {
        try {
          r = await this.deps.submit(f.input, actor);
        } catch (err) {
          if (isCordonError(err, 'transient')) throw err;
          r = await this.deps.keep(f.input, `could not be routed: ${asCordonError(err).message}`, actor);
        }
      }
      if (r.outcome === 'needs_info') this.counts.needsInfo++;
      else this.counts.filed++;
      this.deps.log.info({ source: source.id, ip: f.input.ip || undefined, category: f.input.category, outcome: r.outcome, complaint: r.complaintId, incident: r.incidentId, reason: r.reason }, `${source.kind} alert filed from own monitoring`);
      out.push({ complaint: r.complaintId, outcome: r.outcome, incident: r.incidentId ?? null, reason: r.reason });
    }
    return out;
  }
}
