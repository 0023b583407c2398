import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import type { DNSResolver } from 'mailauth';
import type { RegisteredReporter } from '../../../controller/intake/trust/RegisteredReporter.js';

/**
 * The mail side of the simulated world: the reporters' signing keys, the DNS
 * that publishes them (an in-process resolver, no network), and builders for
 * the report formats the intake reads — ARF feedback-loop mails, X-ARF JSON
 * mails and bare Shadowserver CSV files — signed with real DKIM signatures.
 */

/** A signing domain: its private key and the DKIM record publishing the public one. */
export interface SigningKey {
  domain: string;
  selector: string;
  privateKey: string;
  record: string;
}

/** The sim's mail domains. Registered: fbl (upstream), cert (cert), noc (own monitoring), rights (rights holder). */
export const DOMAINS = {
  fbl: 'fbl.example',
  cert: 'cert.example',
  noc: 'noc.example',
  rights: 'rights.example',
  attacker: 'attacker.example',
  freemail: 'freemail.example',
} as const;
export type DomainName = keyof typeof DOMAINS;

export const REGISTRY: RegisteredReporter[] = [
  { id: 'fbl-example', name: 'Example Mailbox FBL', kind: 'upstream', domains: [DOMAINS.fbl], arcForwarder: false },
  { id: 'cert-example', name: 'Example CERT', kind: 'cert', domains: [DOMAINS.cert], arcForwarder: false },
  { id: 'noc-example', name: 'Our NOC monitoring', kind: 'own_monitoring', domains: [DOMAINS.noc], arcForwarder: false },
  { id: 'rights-example', name: 'Rights Co', kind: 'rights_holder', domains: [DOMAINS.rights], arcForwarder: false },
  { id: 'shadowserver', name: 'Shadowserver feed', kind: 'cert', domains: [], arcForwarder: false, feed: 'shadowserver' },
];

let keyCache: Record<DomainName, SigningKey> | undefined;

/**
 * One RSA key per domain. Generated once per process: keys are not part of
 * the seeded world (signatures depend on them, no decision does). 1024 bits,
 * the least RFC 8301 lets a verifier accept (mailauth does): six 2048-bit
 * keys cost seconds of every run on two cores, and the verification path is
 * the same.
 */
export function signingKeys(): Record<DomainName, SigningKey> {
  if (keyCache) return keyCache;
  const make = (domain: string): SigningKey => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    return {
      domain,
      selector: 'sim',
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      record: `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
    };
  };
  keyCache = Object.fromEntries(Object.entries(DOMAINS).map(([name, domain]) => [name, make(domain)])) as Record<DomainName, SigningKey>;
  return keyCache;
}

/** Splits a TXT value into the ≤255-byte strings DNS carries, as a real server would. */
function txtStrings(value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out;
}

/**
 * An in-process DNS for mailauth: every domain's DKIM key and a DMARC record
 * (reject for the registered ones). Anything else is "no such name".
 * Counts lookups, so the summary can show that authentication really ran.
 */
export function createSimResolver(keys: Record<DomainName, SigningKey>): DNSResolver & { lookups: number } {
  const txt = new Map<string, string[][]>();
  for (const k of Object.values(keys)) {
    txt.set(`${k.selector}._domainkey.${k.domain}`, [txtStrings(k.record)]);
    txt.set(`_dmarc.${k.domain}`, [[k.domain === DOMAINS.freemail ? 'v=DMARC1; p=none' : 'v=DMARC1; p=reject']]);
  }
  const resolver = async (name: string, rrtype: string): Promise<string[][]> => {
    resolver.lookups++;
    const found = rrtype.toUpperCase() === 'TXT' ? txt.get(name.toLowerCase().replace(/\.$/, '')) : undefined;
    if (!found) throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return found;
  };
  resolver.lookups = 0;
  return resolver;
}

/** Prepends a DKIM-Signature of `key` to the message. */
export async function sign(raw: string, key: SigningKey): Promise<string> {
  // mailauth's typings want the key at the top level too; the signer reads signatureData.
  // One signing time for both places mailauth writes t= (it otherwise reads the clock twice, and a second
  // boundary between them makes a signature that never verifies: about one in 300 signatures).
  const options = { signatureData: [{ signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey }], signTime: new Date() } as unknown as Parameters<typeof dkimSign>[1];
  const { signatures, errors } = await dkimSign(raw, options);
  if (errors.length > 0) throw new Error(`dkimSign: ${errors.map((e) => e.message).join('; ')}`);
  return signatures + raw;
}

const rfc822Date = (d: Date) => d.toUTCString().replace('GMT', '+0000');

export interface ArfInput {
  from: string;
  messageId: string;
  /** The spam message's own Message-ID, quoted in the report (forwards keep it). */
  originalMessageId: string;
  sentAt: Date;
  eventTime: Date;
  ip: string;
  note: string;
}

/** An RFC 5965 feedback report about one message sent from `ip`. */
export function arfMail(a: ArfInput): string {
  return [
    `From: Feedback Loop <${a.from}>`,
    'To: abuse@hoster.example',
    `Message-ID: <${a.messageId}>`,
    `Date: ${rfc822Date(a.sentAt)}`,
    'Subject: FW: spam report',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="arf-b1"',
    '',
    '--arf-b1',
    'Content-Type: text/plain',
    '',
    'This is an email abuse report for a message received from your network.',
    '--arf-b1',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: simfbl/1.0',
    'Version: 1',
    `Source-IP: ${a.ip}`,
    `Arrival-Date: ${rfc822Date(a.eventTime)}`,
    '--arf-b1',
    'Content-Type: message/rfc822',
    '',
    `From: promo@shop-${a.originalMessageId.slice(0, 6)}.example`,
    `Message-ID: <${a.originalMessageId}>`,
    `Date: ${rfc822Date(a.eventTime)}`,
    'Subject: cheap watches',
    '',
    a.note,
    '--arf-b1--',
    '',
  ].join('\r\n');
}

/** X-ARF (abusix v2 JSON) report types, by Cordon category. */
export const XARF_TYPES: Record<string, { cls: string; type: string }> = {
  phishing: { cls: 'Fraud', type: 'Phishing' },
  malware: { cls: 'Content', type: 'Malware' },
  botnet: { cls: 'Activity', type: 'Botnet' },
  scan: { cls: 'Activity', type: 'PortScan' },
  brute_force: { cls: 'Activity', type: 'LoginAttack' },
  ddos: { cls: 'Activity', type: 'DDoS' },
  copyright: { cls: 'Copyright', type: 'Copyright' },
  spam: { cls: 'Messaging', type: 'Spam' },
};

export interface XarfInput {
  from: string;
  org: string;
  messageId: string;
  sentAt: Date;
  eventTime: Date;
  ip: string;
  category: keyof typeof XARF_TYPES;
  caseId: string;
}

/** An X-ARF JSON report mailed as the message body. */
export function xarfMail(x: XarfInput): string {
  const t = XARF_TYPES[x.category]!;
  const json = JSON.stringify({
    Version: '2',
    ReporterInfo: { ReporterOrg: x.org, ReporterOrgEmail: x.from },
    Report: { ReportClass: t.cls, ReportType: t.type, Date: x.eventTime.toISOString(), SourceIp: x.ip, ReporterCaseID: x.caseId },
  });
  return [
    `From: ${x.org} <${x.from}>`,
    'To: abuse@hoster.example',
    `Message-ID: <${x.messageId}>`,
    `Date: ${rfc822Date(x.sentAt)}`,
    `Subject: [X-ARF] ${t.type} report ${x.caseId}`,
    'X-ARF: YES',
    'MIME-Version: 1.0',
    'Content-Type: application/json',
    '',
    json,
    '',
  ].join('\r\n');
}

/** A bare Shadowserver CSV (one row per address), and the file name that names its report type. */
export function shadowserverCsv(day: Date, type: string, rows: { ip: string; at: Date; port: number; tag: string }[]): { bytes: Buffer; filename: string } {
  const lines = ['timestamp,ip,protocol,port,hostname,tag,asn,geo,region,city'];
  for (const r of rows) lines.push(`${r.at.toISOString().replace('T', ' ').slice(0, 19)},${r.ip},tcp,${r.port},,${r.tag},64500,NL,NH,Amsterdam`);
  return { bytes: Buffer.from(`${lines.join('\r\n')}\r\n`), filename: `${day.toISOString().slice(0, 10)}-${type}-asn.csv` };
}
