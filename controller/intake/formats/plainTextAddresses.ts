import { canonicalIp } from '../canonicalIp.js';

/**
 * Offenders in the words of a notice written for people, beside the
 * labelled lines plainTextRules reads: addresses in prose, the source side
 * of packet-capture and log lines, and URLs on an IP literal. What decides
 * is the words around each mention, and one rule wins over all others: an
 * address the notice anywhere calls the reporter's own ("our server",
 * "my box", the honeypot, sensor, sinkhole, firewall, relay), a victim's or
 * a target's, the destination of a logged connection, or names in its
 * signature, is never an offender (`vetoed`).
 */

export interface Mention {
  ip: string;
  at: number;
  /** The line it was read from, as evidence. */
  line: string;
  kind: 'prose' | 'log' | 'url';
}

const V4 = String.raw`(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}`;
const V6 = String.raw`(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|${V4})?(?:%[\w.-]+)?`;
/** An address in running text, not part of a longer dotted or hex token (tcpdump's "a.b.c.d.port" is read by LOG_LINES). */
const ADDRESS = new RegExp(String.raw`(?<![\w.:])(?:${V4}|${V6})(?![\w:]|\.\d)`, 'g');

/** Where the reporter's signature starts: "-- ", or a closing formula on its own line. */
const SIGNATURE = /^(?:-- ?|_{3,}|(?:best |kind |warm )?regards,?|sincerely,?|thanks?(?: you)?(?: in advance)?[,!.]?|cheers,?|mit freundlichen gr(?:ü|ue)(?:ß|ss)en,?|cordialement,?)\s*$/im;

export function signatureStart(region: string): number {
  return SIGNATURE.exec(region)?.index ?? region.length;
}

// Words just before an address that make it the offender ("from", "your server", "attacking host", "hosted at").
const CUE_BEFORE = /(?:\bfrom|\bsource(?: ip| address| host)?|\bsrc|\battacker(?:'s)?(?: ip| address)?|\b(?:attacking|offending|abusive|abusing|infected|compromised|malicious|scanning|spamming) (?:host|ip|address|server|machine|system|device|client)|\boffender|\byour (?:customer'?s? )?(?:ip(?: address)?|host|server|machine|system|address|network|customer|vps|client)|\bhosted (?:on|at|by)|\blocated at|\bserved from|\bfound (?:on|at)|\brunning on)\s*[:=]?\s*\(?$/i;
// Words just before an address that make it someone else's: the reporter's,
// a victim's, the other end of the traffic — within three words of it
// ("our mail server 192.0.2.1", "scanning 198.51.100.0"), or, for the
// prepositions, right before it ("to 198.51.100.1", "at 198.51.100.1").
const VETO_BEFORE = /(?:\b(?:our|my|us|honeypots?|sensors?|sinkholes?|victims?|targets?|targeted|destination|dst|directed|hitting|flood(?:ed|ing)|scann(?:ed|ing)|prob(?:ed|ing)|hammer(?:ed|ing)|attack(?:ed|ing|s)?|targeting|contact(?:ed|ing)|connect(?:ed|ing|ions?)|reflectors?|firewalls?|gateways?|relays?|mx|c&c|c2|command[- ]and[- ]control|controllers?|reporter)(?:\s+[\w'./-]+){0,3}|\b(?:to|towards|against|on|at|into)(?:\s+(?:host|server|ip|address|port|the|a))?)\s*[:=(]?\s*$/i;
// Words just after: "(our honeypot)", ", which is ours".
const VETO_AFTER = /^\s*[(,]?\s*(?:which (?:is|are) (?:ours|our)|\(?(?:our|my)\b|\(?(?:honeypot|sensor|victim|target|sinkhole|firewall|relay|mx)\b)/i;
// Words just after that make it the actor: "192.0.2.5 is scanning", "192.0.2.5 sent", "192.0.2.5 (your customer) attacked".
const CUE_AFTER = /^\s*(?:\([^)]{0,60}\)\s*)?(?:[,:]\s*)?(?:(?:is|was|has been|have been|were|are|appears to be|seems to be|keeps|kept|has|had|still|currently|repeatedly|actively)\s+){0,3}(?:attack|scann|send|sent|host|serv|infect|compromis|participat|part of|brute|tr(?:y|ied|ies)|attempt|prob|flood|hammer|distribut|spread|running an? open|listen|respond|acting as|used as|an open|a member|launch|abus|conduct|perform|generat|connect|spamm|phish|deliver)/i;

/** An earlier address with its separators ("192.0.2.1, 192.0.2.2 and "), so a list inherits the cue before its first member. */
const LIST_TAIL = new RegExp(String.raw`(?:(?:${V4}|${V6})\s*(?:,|\band\b|\bor\b|/)\s*)+$`, 'i');

// tcpdump "192.0.2.5.51234 > 198.51.100.1.22", arrows "a:p -> b:p", iptables
// "SRC=a DST=b … SPT=p DPT=q": the first is the source. Groups: source, its
// port, destination, its port.
const LOG_LINES: readonly RegExp[] = [
  new RegExp(String.raw`(${V4})\.(\d{1,5})\s+>\s+(${V4})\.(\d{1,5})`, 'g'),
  new RegExp(String.raw`(${V6})\.(\d{1,5})\s+>\s+(${V6})\.(\d{1,5})`, 'g'),
  new RegExp(String.raw`\[?(${V4}|${V6})\]?(?:[:.#](\d{1,5})|\((\d{1,5})\))?\s*(?:->|=>|→|-->)\s*\[?(${V4}|${V6})\]?(?:[:.#](\d{1,5})|\((\d{1,5})\))?`, 'g'),
  new RegExp(String.raw`\bSRC=(${V4}|${V6})\s+DST=(${V4}|${V6})\b`, 'gi'),
];

/** Source, source port, destination, destination port of a log-line match (the arrow form has alternative port groups). */
function flowOf(m: RegExpMatchArray, index: number): [string, string, string, string] {
  if (index === 2) return [m[1]!, m[2] ?? m[3] ?? '', m[4]!, m[5] ?? m[6] ?? ''];
  if (index === 3) {
    const ports = /\bSPT=(\d+)[^\n]*?\bDPT=(\d+)/i.exec(lineAt(m.input ?? '', m.index ?? 0));
    return [m[1]!, ports?.[1] ?? '', m[2]!, ports?.[2] ?? ''];
  }
  return [m[1]!, m[2]!, m[3]!, m[4]!];
}
// A web server's access log line starts with the client: "192.0.2.5 - - [05/Mar/2024:14:22:10 +0100] "GET …".
const ACCESS_LOG = new RegExp(String.raw`^[ \t>]*(${V4}|${V6})\s+\S+\s+\S+\s+\[\d{1,2}/\w{3}/\d{4}:`, 'gm');
// URLs on an IP literal, defanged or not: http://192.0.2.5/x, hxxps://192.0.2[.]5:8080/, http://[2001:db8::5]/.
const URL_IP = /\b(?:h[tx]{2}ps?|ftp|fxp)(?:\[?:\]?)\/\/(?:[^\s/@]*@)?(\[[0-9A-Fa-f:.]+\]|\d{1,3}(?:(?:\.|\[\.\]|\(\.\)|\[dot\])\d{1,3}){3})(?=[:/\s"'<>)\]]|$)/gi;
const URL_HOST = /\b(?:h[tx]{2}ps?|ftp)(?:\[?:\]?)\/\/(?:[^\s/@]*@)?([A-Za-z0-9-]+(?:(?:\.|\[\.\]|\(\.\))[A-Za-z0-9-]+)+)/gi;

/** The line around `at`, at most 150 characters either side (a notice may be one long line). */
function lineAt(text: string, at: number): string {
  const from = Math.max(0, at - 150);
  const head = text.slice(from, at);
  const tail = text.slice(at, at + 150);
  const newline = tail.indexOf('\n');
  return (head.slice(head.lastIndexOf('\n') + 1) + (newline < 0 ? tail : tail.slice(0, newline))).trim();
}

function refang(host: string): string {
  return host.replace(/\[\.\]|\(\.\)|\[dot\]/gi, '.').replace(/^\[|\]$/g, '');
}

export interface NoticeAddresses {
  mentions: Mention[];
  vetoed: Set<string>;
  /** Host names the notice's URLs name (refanged), for a needs_info reason when no address is found. */
  hosts: string[];
}

/**
 * Reads `body` (the reporter's words, quoted evidence already cut off) up
 * to `signatureAt`; everything from there on only vetoes. `abusive` says
 * whether the notice claims abuse at all: without that claim no address
 * in prose, logs or URLs is taken (a "something is weird" mail names
 * addresses without accusing them).
 */
export function readNoticeAddresses(body: string, signatureAt: number, abusive: boolean, skip: readonly [number, number][] = []): NoticeAddresses {
  const vetoed = new Set<string>();
  const mentions: Mention[] = [];
  const take = (ip: string | undefined, at: number, kind: Mention['kind']) => {
    if (ip && at < signatureAt) mentions.push({ ip, at, line: lineAt(body, at), kind });
  };
  // A flow's first packet names its initiator; a later packet the other way
  // (a SYN-ACK, a reset, an answer) is a reply, and its source is the
  // reporter's host answering: it neither accuses nor vetoes.
  const flows = LOG_LINES.flatMap((pattern, index) => [...body.matchAll(pattern)].map((m) => ({ m, flow: flowOf(m, index) }))).sort((a, b) => a.m.index! - b.m.index!);
  const seen = new Set<string>();
  for (const { m, flow } of flows) {
    const [src, sport, dst, dport] = flow.map((x) => (/[.:]/.test(x) ? (canonicalIp(x) ?? x) : x)) as [string, string, string, string];
    if (seen.has(`${dst}|${dport}|${src}|${sport}`)) continue;
    seen.add(`${src}|${sport}|${dst}|${dport}`);
    vetoed.add(dst);
    if (abusive) take(canonicalIp(src), m.index!, 'log');
  }
  if (abusive) for (const m of body.matchAll(ACCESS_LOG)) take(canonicalIp(m[1]!), m.index, 'log');
  for (const m of body.matchAll(ADDRESS)) {
    const ip = canonicalIp(m[0]);
    if (!ip) continue;
    if (m.index >= signatureAt) {
      vetoed.add(ip);
      continue;
    }
    if (skip.some(([from, to]) => m.index >= from && m.index < to)) continue;
    // The words before it in its own sentence: a line ending in ":" or a blank line ends one, as ". " does.
    const window = body.slice(Math.max(0, m.index - 80), m.index);
    const cut = Math.max(...[...window.matchAll(/[.!?;]\s|:[ \t]*\r?\n|\n[ \t]*\r?\n/g)].map((b) => b.index + b[0].length), 0);
    const before = window.slice(cut).replace(LIST_TAIL, '');
    const after = body.slice(m.index + m[0].length, m.index + m[0].length + 80);
    if (CUE_BEFORE.test(before)) {
      if (VETO_AFTER.test(after)) vetoed.add(ip);
      else if (abusive) take(ip, m.index, 'prose');
    } else if (VETO_BEFORE.test(before) || VETO_AFTER.test(after)) {
      vetoed.add(ip);
    } else if (abusive && CUE_AFTER.test(after)) {
      take(ip, m.index, 'prose');
    }
  }
  const hosts: string[] = [];
  for (const m of body.matchAll(URL_IP)) {
    const ip = canonicalIp(refang(m[1]!));
    if (!ip) continue;
    const before = body.slice(Math.max(0, m.index - 60), m.index);
    if (/\b(?:our|my)\b[^.\n]{0,40}$/i.test(before)) vetoed.add(ip);
    else if (abusive) take(ip, m.index, 'url');
  }
  for (const m of body.slice(0, signatureAt).matchAll(URL_HOST)) hosts.push(refang(m[1]!).toLowerCase());
  return { mentions: mentions.filter((x) => !vetoed.has(x.ip)), vetoed, hosts: [...new Set(hosts)] };
}
