import type { Authentication } from '../intake/trust/Authentication.js';
import type { ComplaintInput } from '../services/IncidentService.js';
import type { AlertSourceKind } from './alertsSettings.js';

/** What one detector alert becomes: a complaint to route, or one kept for an operator (needs_info) and why. */
export interface AlertFiling {
  input: ComplaintInput;
  /** Set when the alert cannot be routed with confidence (no Cordon category, not one address): kept as needs_info, never dropped. */
  needsInfo: string | undefined;
}

const NAMES: Record<AlertSourceKind, string> = { crowdsec: 'CrowdSec', fastnetmon: 'FastNetMon' };

/** The reporter a source's complaints are recorded as: `crowdsec:edge-crowdsec`. */
export const alertReporter = (source: { id: string; kind: AlertSourceKind }): string => `${source.kind}:${source.id}`;

/**
 * How an alert was authenticated: the source's own token on the alerts
 * listener, as the provider's own monitoring. Trusted exactly when the
 * policy trusts own_monitoring.
 */
export function alertAuthentication(source: { id: string; kind: AlertSourceKind }, trusted: boolean, what: string): Authentication {
  return {
    trusted,
    via: 'alert',
    reporterKind: 'own_monitoring',
    reason: `${what}, sent by ${NAMES[source.kind]} source ${source.id} with its token${trusted ? '' : ', a kind the policy does not trust'}`,
    checks: [{ method: 'channel', result: 'token', detail: `alerts.sources ${source.id} (${source.kind}): bearer token on POST /alerts/${source.kind}` }],
  };
}
