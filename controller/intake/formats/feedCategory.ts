import type { Category } from '../../incidents/model.js';
import { xarfCategory } from './xarfCategory.js';

/**
 * A feed row's type, threat, category or taxonomy → Cordon's category.
 * Undefined when the words say nothing Cordon can act on: the reader then
 * takes the report's own category (its subject, its file name, the feed's
 * name), else 'other' (no ladder: an operator decides).
 *
 * Read in this order, the first that answers wins:
 * 1. the whole value against the X-ARF report types (xarfCategory: spam,
 *    phishing, login-attack, open_service, ddos…);
 * 2. the whole value against the RSIT / IntelMQ classification that CERTs
 *    exchange (`infected-system`, `c2-server`, `scanner`, taxonomy
 *    `malicious-code`…): TYPES below;
 * 3. AbuseIPDB's numeric categories ("18,22"), when the value is nothing
 *    but category numbers: ABUSEIPDB below;
 * 4. keywords in the value, most specific first: KEYWORDS below.
 */

/** RSIT / IntelMQ `classification.type` and `classification.taxonomy`, and feed words seen beside them; keys without separators. */
const TYPES: Readonly<Record<string, Category | null>> = {
  // abusive-content
  abusivecontent: 'spam', harmfulspeech: null, violence: null,
  // malicious-code
  maliciouscode: 'malware', infectedsystem: 'botnet', infectedhost: 'botnet', c2server: 'botnet', c2: 'botnet', cc: 'botnet', cnc: 'botnet', botnetcontroller: 'botnet', botnetdrone: 'botnet', drone: 'botnet', bot: 'botnet', bots: 'botnet', sinkhole: 'botnet',
  malwaredistribution: 'malware', malwareconfiguration: 'malware', malwaredownload: 'malware', malwareurl: 'malware', payloaddelivery: 'malware', ransomware: 'malware',
  // information-gathering, intrusion-attempts: attack traffic from the host; scan has the ladder of brute force
  informationgathering: 'scan', scanner: 'scan', scanning: 'scan', sniffing: 'scan', idsalert: 'scan', exploit: 'scan', intrusionattempts: 'scan', webattack: 'scan', webappattack: 'scan', hacking: 'scan', sqlinjection: 'scan', badwebbot: 'scan',
  socialengineering: 'phishing', masquerade: 'phishing',
  // intrusions: a compromised host serves whoever took it
  intrusions: 'malware', privilegedaccountcompromise: 'malware', unprivilegedaccountcompromise: 'malware', applicationcompromise: 'malware', systemcompromise: 'malware', compromised: 'malware', compromisedwebsite: 'malware', defacement: 'malware', webshell: 'malware', backdoor: 'malware',
  availability: 'ddos', outage: null, sabotage: null,
  informationcontentsecurity: null, unauthorisedinformationaccess: null, unauthorizedinformationaccess: null, unauthorisedinformationmodification: null, dataloss: null, dataleak: null,
  // vulnerable
  vulnerable: 'open_service', vulnerableservice: 'open_service', vulnerablesystem: 'open_service', weakcrypto: 'open_service', ddosamplifier: 'open_service', amplifier: 'open_service',
  potentiallyunwantedaccessible: 'open_service', informationdisclosure: 'open_service', openresolver: 'open_service', openproxy: 'open_service', proxy: 'open_service', openrelay: 'open_service', accessible: 'open_service', exposed: 'open_service',
  // services named alone (blocklist.de's lists, honeypot feeds) are attacks on that service: login attempts
  ssh: 'brute_force', sshd: 'brute_force', ftp: 'brute_force', telnet: 'brute_force', rdp: 'brute_force', imap: 'brute_force', pop3: 'brute_force', smtpauth: 'brute_force', sip: 'brute_force', bruteforcelogin: 'brute_force', wordpress: 'brute_force', wplogin: 'brute_force',
  mail: 'spam', email: 'spam', emailspam: 'spam', webspam: 'spam', blogspam: 'spam', fraud: 'phishing',
  // Team Cymru CAP and DataPlane.org report names
  controller: 'botnet', darknet: 'scan', honeypot: 'scan', sshpwauth: 'brute_force', telnetlogin: 'brute_force', sipregistration: 'brute_force', sipinvitation: 'scan', sipquery: 'scan',
  sshclient: 'scan', vncrfb: 'scan', dnsrd: 'scan', dnsrdany: 'scan', dnsversion: 'scan', smtpgreet: 'scan', smtpdata: 'spam', proto41: 'open_service',
  other: null, undetermined: null, unknown: null, test: null, blacklist: null, blocklist: null, tor: null, vpn: null,
};

/** AbuseIPDB's category numbers (https://www.abuseipdb.com/categories). */
const ABUSEIPDB: Readonly<Record<number, Category | null>> = {
  1: null, 2: null, 3: 'phishing', 4: 'ddos', 5: 'brute_force', 6: 'ddos', 7: 'phishing', 8: null, 9: 'open_service', 10: 'spam', 11: 'spam', 12: 'spam',
  13: null, 14: 'scan', 15: 'scan', 16: 'scan', 17: null, 18: 'brute_force', 19: 'scan', 20: 'botnet', 21: 'scan', 22: 'brute_force', 23: 'scan',
};

/** When a value names several categories ("14,18"), the one with the heavier consequence for the host, so one event is one complaint. */
const PRECEDENCE: readonly Category[] = ['child_abuse', 'phishing', 'malware', 'botnet', 'ddos', 'spam', 'brute_force', 'scan', 'open_service', 'copyright', 'auth_failure'];

/** Keywords, most specific first: "ddos amplifier" is an open service, "ssh brute force" brute force, "malware C2" a botnet. */
const KEYWORDS: readonly [RegExp, Category][] = [
  [/\bcsam\b|child ?(sexual )?abuse/, 'child_abuse'],
  [/copyright|\bdmca\b|infring|piracy|torrent/, 'copyright'],
  [/phish|social engineering|credential harvest/, 'phishing'],
  [/amplifier|open[ _-]?(resolver|proxy|relay|service|port)|^open[ _-]|accessible|exposed|vulnerab|misconfig|\bcve-\d/, 'open_service'],
  [/brute|pwauth|login attempt|auth(?:entication)? attack|password (?:attack|guess)|credential stuffing|dictionary attack/, 'brute_force'],
  [/\bddos\b|\bdos\b|denial[ _-]of[ _-]service|flood|reflection|amplification/, 'ddos'],
  [/\bc2\b|\bc&c\b|\bcnc\b|command[ _-]and[ _-]control|botnet|\bbots?\b|drone|infected|sinkhole|mirai|gafgyt|mozi|emotet|qakbot|trickbot|conficker|andromeda/, 'botnet'],
  [/malware|virus|trojan|ransomware|exploit ?kit|malicious[ _-]code|compromised|defacement|webshell|backdoor|dropper|payload/, 'malware'],
  [/spam|unsolicited|\buce\b/, 'spam'],
  [/scan|probe|recon|sniff|exploit|attack|hacking|sql ?injection|crawler|\bids\b/, 'scan'],
];

function normalise(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function heaviest(list: readonly Category[]): Category | undefined {
  return PRECEDENCE.find((c) => list.includes(c));
}

/** The category a type value names, or undefined when it names none Cordon knows. */
export function feedCategory(value: string): Category | undefined {
  const text = value.trim();
  if (text === '') return undefined;
  const x = xarfCategory(text, undefined);
  if (x !== 'other') return x;
  const key = normalise(text);
  if (key in TYPES) return TYPES[key] ?? undefined;
  if (/^\d{1,2}(\s*[,;| ]\s*\d{1,2})*$/.test(text)) {
    const named = text.split(/[^0-9]+/).map((n) => ABUSEIPDB[Number(n)]).filter((c): c is Category => !!c);
    return heaviest(named);
  }
  // A list of types ("scanner;brute-force", tags "ssh,bruteforce"): each read alone, the heaviest kept.
  const items = text.split(/\s*[,;|]\s*/).filter((s) => s !== '');
  if (items.length > 1) return heaviest(items.map((i) => feedCategory(i)).filter((c): c is Category => !!c));
  const lower = text.toLowerCase().replace(/[_-]+/g, ' ');
  for (const [pattern, category] of KEYWORDS) if (pattern.test(lower)) return category;
  return undefined;
}
