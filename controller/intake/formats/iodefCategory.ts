import type { Category } from '../../incidents/model.js';
import { categoryFromKeywords } from './plainTextRules.js';

/**
 * IODEF impact types → Cordon category. RFC 5070 §3.10.1 Impact@type and
 * RFC 7970 §3.12.1 SystemImpact@type. Only types that say what the source
 * did are mapped here; the rest (admin, user, file, info-leak, policy,
 * takeover-*, damaged-*, breach-*, unknown…) say what happened to the
 * target, and the incident's own words decide (categoryFromKeywords over
 * Description and Method), then `completion`.
 */
const BY_IMPACT: Readonly<Record<string, Category>> = {
  dos: 'ddos', // 5070: denial of service
  'availability-service': 'ddos', // 7970: a service made unavailable
  'availability-system': 'ddos',
  recon: 'scan', // 5070: reconnaissance probes
  'monitoring-traffic': 'scan', // 7970
  'monitoring-host': 'scan',
  'social-engineering': 'phishing', // 5070
  misconfiguration: 'open_service', // 5070: a misconfigured service (open resolvers, amplifiers)
  'breach-configuration': 'open_service', // 7970
  'integrity-configuration': 'open_service',
};

/** Attempted takeovers: a failed admin/user/takeover attempt is the login-guessing kind. */
const ATTEMPTS = /^(?:admin|user|takeover-account|takeover-service|takeover-system|breach-credential)$/;

/**
 * The category of one IODEF incident (or EventData) from its impacts
 * (`type` and `completion` attributes) and its words.
 */
export function iodefCategory(impacts: readonly { type: string; completion: string }[], words: string): Category {
  for (const i of impacts) {
    const mapped = BY_IMPACT[i.type.toLowerCase()];
    if (mapped) return mapped;
  }
  const fromWords = categoryFromKeywords(words);
  if (fromWords !== 'other') return fromWords;
  if (impacts.some((i) => ATTEMPTS.test(i.type.toLowerCase()) && i.completion.toLowerCase() === 'failed')) return 'brute_force';
  return 'other';
}
