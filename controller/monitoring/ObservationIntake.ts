import { Observation } from '../../proto/gen/cordon/v1/agent.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { Authentication } from '../intake/trust/Authentication.js';
import type { Inventory } from '../inventory/Inventory.js';
import type { ComplaintInput, SubmitResult } from '../services/IncidentService.js';
import { OBSERVATION_KINDS, describeObservation, observationProblem, thresholdProblem, type ObservationKind } from './describeObservation.js';
import type { HostDetection } from './effectiveDetection.js';

export interface ObservationIntakeDeps {
  inventory: Inventory;
  /** Routes the complaint as any other: merged into the host's open incident of its category, or a new one. */
  submit: (input: ComplaintInput, hostId: string) => Promise<SubmitResult>;
  /** Whether the policy trusts reporter kind own_monitoring. */
  trusted: boolean;
  clock: () => Date;
  log: Logger;
  /**
   * The host's effective detection (effectiveDetection.ts): its thresholds,
   * which an observation's count must pass, and its minIntervalMs, at most
   * one complaint per host and kind within it (a flood of windows is one
   * complaint, not one a minute). Absent: the agent's threshold and 10 min.
   */
  detectionFor?: (hostId: string) => HostDetection;
}

/** The reporter a measured complaint is recorded as. */
export const OWN_MONITORING_REPORTER = 'cordon-agent';

/**
 * Turns what an agent measured on its own host into a complaint from the
 * provider's own monitoring (reporter kind own_monitoring). The host is the
 * agent's certificate's, never anything the message says, and the address
 * is the host's own (its first public prefix), so an agent can only ever
 * report its own server. Due process is unchanged: the complaint is routed
 * like any other, with its notice and deadlines.
 */
export class ObservationIntake {
  private readonly last = new Map<string, number>();

  constructor(private readonly deps: ObservationIntakeDeps) {}

  /** Takes one observation from the agent of `hostId`; resolves with the complaint's outcome, or undefined when refused or rate-limited. */
  async take(hostId: string, o: Observation): Promise<SubmitResult | undefined> {
    const now = this.deps.clock();
    const log = this.deps.log.child({ host: hostId, kind: o.kind.slice(0, 40) });
    const detection = this.deps.detectionFor?.(hostId);
    const problem = observationProblem(o, now) ?? (detection && thresholdProblem(o, detection.policy));
    if (problem) {
      log.warn({ problem }, 'observation refused');
      return undefined;
    }
    const host = this.deps.inventory.get(hostId);
    const prefix = host?.publicPrefixes[0];
    if (!prefix) {
      log.warn('observation of a host with no public prefix: nothing to name in a complaint');
      return undefined;
    }
    const key = `${hostId}\u0000${o.kind}`;
    const minInterval = detection?.minIntervalMs ?? 10 * 60_000;
    const previous = this.last.get(key);
    if (previous !== undefined && now.getTime() - previous < minInterval) {
      log.debug('observation within the rate limit of the last complaint: not filed again');
      return undefined;
    }
    this.last.set(key, now.getTime());
    const kind = OBSERVATION_KINDS[o.kind as ObservationKind];
    const evidence = describeObservation(hostId, o);
    const authentication: Authentication = {
      trusted: this.deps.trusted,
      via: 'agent',
      reporterKind: 'own_monitoring',
      reason: `measured on ${hostId} by its Cordon agent${this.deps.trusted ? '' : ', a kind the policy does not trust'}`,
      checks: [{ method: 'channel', result: 'agent', detail: `the agent's certificate for host ${hostId}` }],
    };
    const result = await this.deps.submit({
      ip: prefix.split('/')[0]!,
      category: kind.category,
      reporter: OWN_MONITORING_REPORTER,
      reporterKind: 'own_monitoring',
      eventTime: o.windowEnd,
      evidence,
      excerpt: evidence,
      raw: JSON.stringify({ host: hostId, observation: Observation.toJSON(o) }, null, 2),
      authentication,
    }, hostId);
    log.info({ outcome: result.outcome, incident: result.incidentId, complaint: result.complaintId }, 'observation filed as a complaint from own monitoring');
    return result;
  }
}
