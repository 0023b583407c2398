import { parseIp } from '../../../proto/runtime/cidr.js';
import type { ParsedComplaint } from '../types.js';

/**
 * The vocabulary of plain-text abuse reports: which labels name the
 * offender, which name a time, where the reporter's own words end and quoted
 * evidence begins, and which keywords decide the category.
 */

/**
 * Where quoted evidence starts: a SpamCop "[ Offending message ]" block, a
 * forwarded or original message, or a pasted header block. Addresses after
 * it (Received chains, recipient MTAs) are evidence, never the offender.
 */
const QUOTED_START = /^(?:\s*\[\s*Offending message\s*\]|-{2,}\s*(?:Original|Forwarded) Message|Begin forwarded message|(?:Return-path|Received):\s)/im;

/** The reporter's own words: the text before the first quoted message. */
export function reportRegion(text: string): string {
  const m = QUOTED_START.exec(text);
  return m ? text.slice(0, m.index) : text;
}

/**
 * A line that labels the offender, at the start of a line (after an optional
 * bullet): "Offending IP:", "Offending/Source IP:", "Source IP:", "Attacker
 * IP:", "IP address:". Labels for the other side (target, victim,
 * destination, "your server") are deliberately absent. Each run of blanks
 * has one quantifier only, so a line of 64 KiB of blanks costs linear time.
 */
export const OFFENDER_LINE = /^[ \t]*(?:[-*•>][ \t]*)?(?:(?:offending(?:\/source)?|source|src|attacker|attacking|abusive|abusing|offender|reported|infringing)[ \t]*)?ip(?:v[46])?(?:[ \t]*address)?[ \t]*[:=][ \t]*\[?([0-9A-Fa-f:.]+)\]?(\/\d{1,3})?(?=[\s,;)]|$)/gim;

/** A line that labels the event time: "Time:", "Date/Time (UTC):", "Timestamp:", "Attack time:", "First seen:". */
export const TIME_LINE = /^[ \t]*(?:[-*•][ \t]*)?(?:time(?:stamp)?|date(?:\/time)?|event time|attack time|incident time|detected(?: at)?|first seen|seen at)(?:[ \t]*\((?:utc|gmt)\))?[ \t]*:[ \t]*(.+?)[ \t]*$/gim;

/** ISO 8601 date-time anywhere in the text (with optional seconds and zone), as a last resort for the event time. */
export const ISO_TIME = /\b\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT))?\b/;

/** `address` when it is one IP address (an address followed by a host prefix /32 or /128 counts; a wider range does not). */
export function offenderIp(address: string, prefix: string | undefined): string | undefined {
  // "192.0.2.1:443" names the offender's port too: keep the address.
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(address);
  if (withPort) address = withPort[1]!;
  try {
    const { family } = parseIp(address);
    if (prefix && prefix !== (family === 4 ? '/32' : '/128')) return undefined;
    return address;
  } catch {
    return undefined;
  }
}

type Category = ParsedComplaint['category'];

/**
 * Category from the notice's own words, most specific first: a wp-login
 * brute force report that mentions "botnets" is brute force; an open
 * resolver abused for reflection is the open service, not the flood; an
 * open proxy relays spam (INDEX.md). Cordon has no defacement category: a
 * defaced site is a compromised server serving the intruder's content,
 * filed as malware.
 *
 * | words                                                                          | category     |
 * |--------------------------------------------------------------------------------|--------------|
 * | copyright, DMCA, infringement, torrent, pirated                                | copyright    |
 * | phishing, credential harvesting, fake login page                               | phishing     |
 * | brute force, wp-login, xmlrpc, login/password attempts, dictionary attack      | brute_force  |
 * | open resolver/relay-free open services: open DNS/NTP/SSDP/memcached…, amplifier | open_service |
 * | DDoS, denial of service, flood, reflection/amplification attack                | ddos         |
 * | botnet, bot, drone, infected, compromised host, worm, C&C, sinkhole            | botnet       |
 * | malware, virus, trojan, ransomware, webshell, defacement, exploit kit          | malware      |
 * | spam, open proxy, open relay, unsolicited, UCE, junk mail                      | spam         |
 * | port scan, scanning, probe, reconnaissance, sweep                              | scan         |
 * | none of these                                                                  | other        |
 */
const KEYWORDS: readonly [RegExp, Category][] = [
  [/copyright|\bdmca\b|infring|\btorrent|\bpirat(?:ed|ing|cy)\b/i, 'copyright'],
  [/phish|credential[- ]harvest|fake (?:bank |log-?in )?(?:login|page|site)/i, 'phishing'],
  [/brute[- ]?forc|wp-login|xmlrpc\.php|(?:login|logon|password|authentication|ssh|rdp) (?:attempts?|attacks?|failures?)|failed (?:login|password)|dictionary attack|credential stuffing|password guessing/i, 'brute_force'],
  [/open (?:dns )?resolver|open (?:recursive )?(?:dns|ntp|ssdp|snmp|memcached|chargen|portmap(?:per)?|mdns|ldap|cldap|netbios|tftp|ubiquiti|redis|elasticsearch|mongodb|rdp|vnc|telnet|smb)\b|\bamplifier\b|open service|vulnerable (?:service|server)|publicly (?:accessible|exposed)/i, 'open_service'],
  [/\bddos\b|\bdos attack|denial[- ]of[- ]service|\bflood(?:ing)?\b|reflection attack|amplification attack|reflected (?:traffic|attack)/i, 'ddos'],
  [/botnet|\bbots?\b|\bdrones?\b|\binfect(?:ed|ion)\b|compromised (?:host|machine|device|system|server)|\bworm\b|command[- ]and[- ]control|\bc&c\b|\bc2\b|sinkhole|\bmirai\b/i, 'botnet'],
  [/malware|\bvirus\b|trojan|ransomware|web ?shell|defac(?:ed|ement|ing)|exploit kit|malicious (?:file|code|software|download|script)/i, 'malware'],
  [/\bspam|open proxy|open relay|unsolicited|\buce\b|junk (?:mail|e-?mail)/i, 'spam'],
  [/port ?scan|\bscann(?:ing|ed|er)\b|\bscans?\b|\bprob(?:e|es|ing)\b|reconnaissance|\bsweeps?\b/i, 'scan'],
];

export function categoryFromKeywords(text: string): Category {
  for (const [pattern, category] of KEYWORDS) if (pattern.test(text)) return category;
  return 'other';
}
