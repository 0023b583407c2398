import type { Category } from '../../incidents/model.js';

/**
 * X-ARF report types → Cordon categories. Keys are normalised (lower case,
 * without "-", "_" or spaces) so one table serves all generations:
 * X-ARF 0.1/0.2 `Report-Type` (login-attack), abusix X-ARF v1–v3
 * `Report.ReportType` (LoginAttack, OpenService, DOS), and xarf-spec v4
 * `type` (login_attack, open_service, ddos_amplification).
 */
const BY_TYPE: Readonly<Record<string, Category>> = {
  spam: 'spam', bulkmessaging: 'spam', spamvertised: 'spam',
  phishing: 'phishing', fraud: 'phishing',
  malware: 'malware', malwaredistribution: 'malware', virus: 'malware', remotecompromise: 'malware',
  botnet: 'botnet', infectedhost: 'botnet',
  ddos: 'ddos', dos: 'ddos', ddosamplification: 'ddos',
  portscan: 'scan', scan: 'scan', reconnaissance: 'scan', vulnscanning: 'scan', vulnerabilityscan: 'scan',
  loginattack: 'brute_force', bruteforce: 'brute_force',
  // v4 connection/auth_failure: repeated failed logins reported as such, kept
  // apart from login_attack as the spec keeps it apart.
  authfailure: 'auth_failure',
  copyright: 'copyright', trademark: 'copyright', brandinfringement: 'copyright', p2p: 'copyright',
  cyberlocker: 'copyright', ugcplatform: 'copyright', linksite: 'copyright', usenet: 'copyright',
  openservice: 'open_service', open: 'open_service', cve: 'open_service', misconfiguration: 'open_service',
  childabuse: 'child_abuse', csam: 'child_abuse', csem: 'child_abuse',
};

/**
 * When the type is unknown: X-ARF 0.2 `Category` (abuse, fraud, malware,
 * info), v1–v3 `ReportClass`, v4 `category` (messaging, connection, content,
 * infrastructure, vulnerability, reputation, copyright). Classes too broad to
 * name a category (abuse, content, connection, info…) fall to 'other'.
 */
const BY_CLASS: Readonly<Record<string, Category>> = {
  messaging: 'spam',
  fraud: 'phishing',
  malware: 'malware',
  vulnerability: 'open_service',
  copyright: 'copyright',
};

function normalise(value: unknown): string {
  return typeof value === 'string' ? value.toLowerCase().replace(/[\s_-]+/g, '') : '';
}

/** The category of an X-ARF report from its type and, failing that, its class. */
export function xarfCategory(type: unknown, cls: unknown): Category {
  return BY_TYPE[normalise(type)] ?? BY_CLASS[normalise(cls)] ?? 'other';
}
