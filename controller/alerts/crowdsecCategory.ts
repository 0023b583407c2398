import type { Category } from '../incidents/model.js';

/**
 * CrowdSec scenario → Cordon category, first match wins, on the scenario's
 * name without its author ("crowdsecurity/ssh-bf" → "ssh-bf"). A scenario
 * no row matches has no category: its alert is kept as needs_info for an
 * operator, never guessed.
 *
 * | scenario name matches                                   | category    | e.g.                                         |
 * |---------------------------------------------------------|-------------|----------------------------------------------|
 * | `-bf`, `_bf`, `-bf-` or `bruteforce`/`brute-force`      | brute_force | ssh-bf, ssh-slow-bf, http-generic-bf         |
 * | `ddos`, `dos`, `flood`                                  | ddos        | http-dos-*, *-flood                          |
 * | `scan`, `portscan`, `port-scan`                         | scan        | iptables-scan-multi_ports, http-scan-*       |
 * | `http-crawl`, `bad-user-agent`, `probing`, `sensitive-files`, `backdoors-attempts`, `w00tw00t` | scan | http-crawl-non_statics, http-probing, http-sqli-probing |
 * | `spam`                                                  | spam        | postfix-spam, exim-spam                      |
 * | anything else                                           | (none)      | CVE-2022-26134, http-open-proxy → needs_info |
 */
export const CROWDSEC_CATEGORIES: readonly { match: RegExp; category: Category }[] = [
  { match: /(^|[-_])bf($|[-_])|brute-?force/, category: 'brute_force' },
  { match: /ddos|(^|[-_])dos($|[-_])|flood/, category: 'ddos' },
  { match: /scan/, category: 'scan' },
  { match: /http-crawl|bad-user-agent|probing|sensitive-files|backdoors-attempts|w00tw00t/, category: 'scan' },
  { match: /spam/, category: 'spam' },
];

/** The category of a CrowdSec scenario (case-insensitive), or undefined when the table has none. Pure. */
export function crowdsecCategory(scenario: string): Category | undefined {
  const name = (scenario.split('/').at(-1) ?? '').toLowerCase();
  return CROWDSEC_CATEGORIES.find((r) => r.match.test(name))?.category;
}
