import type { ParsedComplaint } from '../types.js';

/**
 * Which Shadowserver report a CSV is, and what its rows mean. Shadowserver
 * names files `YYYY-MM-DD-<report_type>-<asn|geo|…>.csv` and mail subjects
 * `[…] Shadowserver <report_type> Report: YYYY-MM-DD`; the report type is the
 * only reliable signal of the category, the header row tells which column
 * holds the offender.
 */

/** Report type from a file name: "2015-01-01-scan_ssdp-sample-asn.csv(.zip)" → "scan_ssdp". */
export function reportTypeFromFilename(filename: string | undefined): string | undefined {
  if (!filename) return undefined;
  const base = filename.toLowerCase().replace(/^.*[\\/]/, '').replace(/(\.csv)?(\.zip|\.gz)?$/, '');
  const m = /^(?:\d{4}-\d{2}-\d{2}-)?([a-z0-9_]+)/.exec(base);
  return m?.[1] && m[1].includes('_') ? m[1] : undefined;
}

/** Report type from a subject: "[SAMPLE] Shadowserver scan_ssdp-sample Report: 2015-01-01" → "scan_ssdp". */
export function reportTypeFromSubject(subject: string): string | undefined {
  return /shadowserver\s+([a-z0-9_]+)/i.exec(subject)?.[1]?.toLowerCase();
}

/**
 * The offender column for a header row. event4_* and honeypot reports name
 * the attacker `src_ip` (their `dst_ip` is Shadowserver's honeypot, darknet or
 * sinkhole); scan_*, drone and older reports use `ip`. Columns that are never
 * the offender — dst_ip, http_referer_ip, cc_ip, sinkhole addresses, URLs in
 * `location` — are simply never read.
 */
export function offenderColumn(header: readonly string[]): 'src_ip' | 'ip' | undefined {
  if (header.includes('src_ip')) return 'src_ip';
  if (header.includes('ip')) return 'ip';
  return undefined;
}

/**
 * Reports whose address column names a victim in the recipient's network, not
 * an offender (amplification DDoS victims): they hold no complaint to open.
 */
export function isVictimReport(type: string | undefined): boolean {
  return type !== undefined && (/victim/.test(type) || /ddos_amp/.test(type));
}

/** Malware families Shadowserver tags infected (bot) hosts with. */
const BOTNET_TAGS = /\b(mirai|gafgyt|bashlite|mozi|hajime|emotet|qakbot|qbot|trickbot|conficker|necurs|andromeda|avalanche|ramnit|sality|zeus|dridex|bot|botnet)\b/;

type Category = ParsedComplaint['category'];

/**
 * Category of one row, from the report type first (it says what was observed)
 * and then the row's infection/tag columns (a darknet hit tagged "mirai" is an
 * infected host, an untagged one merely a scan):
 *
 * | report type / row                                   | category     |
 * |-----------------------------------------------------|--------------|
 * | *brute_force*                                       | brute_force  |
 * | *ddos*                                              | ddos         |
 * | *phish*                                             | phishing     |
 * | compromised_website, *malware_url*, *malware*       | malware      |
 * | scan_*, scan6_*, open_*, *_open_*, ssdp, ntp*, snmp… | open_service |
 * | *botnet*, *drone*, *sinkhole*, or infection/tag set  | botnet       |
 * | anything else (darknet, http_scan, unknown)         | scan         |
 */
export function categoryOf(type: string | undefined, infection: string, tag: string): Category {
  const t = type ?? '';
  if (/brute_force|bruteforce/.test(t)) return 'brute_force';
  if (/ddos/.test(t)) return 'ddos';
  if (/phish/.test(t)) return 'phishing';
  if (/compromised_website|malware/.test(t)) return 'malware';
  if (/^(scan6?_|open_|ssdp|ntp|snmp|chargen|qotd|netbios|mdns|memcached|redis|elasticsearch|mongodb)|_open_/.test(t)) return 'open_service';
  if (/botnet|drone|sinkhole/.test(t)) return 'botnet';
  if (infection.trim() !== '' || BOTNET_TAGS.test(tag.toLowerCase())) return 'botnet';
  return 'scan';
}
