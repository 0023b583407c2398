import { canonicalIp } from '../canonicalIp.js';
import { parseReportDate } from '../parseReportDate.js';
import { isPublicAddress } from '../publicAddress.js';

/** One Received: header (RFC 5321 §4.4) as the receiving MTA wrote it. */
export interface ReceivedHop {
  /** The connecting host's address, as the receiver saw it ("[203.0.113.9]"), canonical. */
  fromIp: string | undefined;
  /** The connecting host's reverse-DNS name as the receiver looked it up (not the sender's HELO, which it chooses). */
  fromRdns: string | undefined;
  /** The name the sender gave (HELO/EHLO, or the first word after "from"): the sender's own claim. */
  fromHelo: string | undefined;
  /** The host that added this header. */
  by: string | undefined;
  /** The receiver's timestamp, after the last ";". */
  date: Date | undefined;
}

const BRACKET_IP = /\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]/;

/**
 * The address the receiver wrote: the bracketed one inside a parenthesised
 * comment (Postfix/sendmail "(rdns [ip])", Exim "([ip] helo=…)"), Exim's
 * own "from [ip] (helo=…)", qmail's "(ip)". A bracketed literal the sender
 * gave as its HELO ("from [198.51.100.1] (rdns [ip])", "(helo=[…])") is
 * never it.
 */
function receiverIp(fromPart: string): string | undefined {
  const groups = [...fromPart.matchAll(/\(([^()]*)\)/g)].map((m) => m[1]!);
  for (const g of groups) {
    const m = BRACKET_IP.exec(g.replace(/\bhelo=.*$/i, ''));
    if (m) return canonicalIp(m[1]!);
  }
  if (groups.some((g) => /^\s*helo=/i.test(g))) {
    const first = /^\s*\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]/i.exec(fromPart);
    if (first) return canonicalIp(first[1]!);
  }
  for (const g of groups) {
    const bare = /^\s*([0-9A-Fa-f:.]{3,})\s*$/.exec(g);
    if (bare) return canonicalIp(bare[1]!);
  }
  return undefined;
}

/**
 * Reads one Received: value of the usual MTA spellings: Postfix and
 * sendmail "from helo (rdns [ip]) by host …; date", Exim "from [ip]
 * (helo=…)" and "from helo ([ip])", qmail "from unknown (HELO x) (ip)",
 * Microsoft and Google "(rdns. [ip])". The address is only ever the one the
 * receiver wrote in brackets or parentheses, never the HELO word.
 */
export function parseReceived(value: string): ReceivedHop {
  const text = value.replace(/\s+/g, ' ').trim();
  const semi = text.lastIndexOf(';');
  const date = semi >= 0 ? parseReportDate(text.slice(semi + 1).trim()) : undefined;
  const head = semi >= 0 ? text.slice(0, semi) : text;
  const byAt = head.search(/(?:^|\s)by\s/i);
  const fromPart = /^from\s/i.test(head) ? head.slice(5, byAt > 0 ? byAt : undefined) : '';
  const by = byAt >= 0 ? /\bby\s+([^\s;()]+)/i.exec(head.slice(byAt))?.[1] : undefined;
  const fromIp = receiverIp(fromPart);
  const helo = /\(\s*helo[= ]\s*([^\s()]+)/i.exec(fromPart)?.[1] ?? /^\s*([^\s()]+)/.exec(fromPart)?.[1];
  // Postfix/sendmail/Google: "(name [ip])" or "(name. [ip])"; "unknown" means no PTR.
  const rdns = /\(\s*([A-Za-z0-9][A-Za-z0-9.-]*?)\.?\s+\[/.exec(fromPart)?.[1];
  return { fromIp, fromRdns: rdns && rdns.toLowerCase() !== 'unknown' ? rdns.toLowerCase() : undefined, fromHelo: helo?.toLowerCase(), by: by?.toLowerCase().replace(/\.$/, ''), date };
}

/** Second-level labels under which registrations sit a level deeper (co.uk, com.au, ne.jp …). */
const SECOND_LEVEL = new Set(['co', 'com', 'net', 'org', 'ac', 'gov', 'edu', 'ne', 'or', 'go', 'gv', 'mil']);

/**
 * The organisational domain of a host name, approximated without the Public
 * Suffix List: its last two labels, three under a two-letter country code
 * with a generic second level (mx1.mail.example.co.uk → example.co.uk).
 * Undefined for a bare name or an address literal.
 */
export function organisationalDomain(host: string | undefined): string | undefined {
  const name = host?.toLowerCase().replace(/\.$/, '');
  if (!name || !name.includes('.') || canonicalIp(name.replace(/^\[|\]$/g, '')) !== undefined) return undefined;
  const labels = name.split('.');
  const n = labels[labels.length - 1]!.length === 2 && SECOND_LEVEL.has(labels[labels.length - 2]!) ? 3 : 2;
  return labels.slice(-n).join('.');
}

export type EntryHop = { hop: ReceivedHop & { fromIp: string }; reason?: undefined } | { hop?: undefined; reason: string };

/**
 * The hop where the reporter's own systems received the message from
 * outside, read top-down from the newest Received: header (the one the
 * reporter's mailbox wrote last): hops added by a host of the reporter's
 * domains (`reporterDomains`, plus the domain of the topmost hop, which is
 * always the mailbox's own) are followed down while their sender is one of
 * the reporter's relays — a private or otherwise non-public address, or a
 * reverse-DNS name in the reporter's domains. The first hop from anything
 * else is the entry: its address is the sender. Headers below it are
 * written by the sender's side and may be forged: they are never read.
 *
 * A reason instead when the chain leaves the reporter's domains before an
 * outside sender appears, or names none.
 */
export function entryHop(received: readonly string[], reporterDomains: readonly (string | undefined)[]): EntryHop {
  const hops = received.map(parseReceived);
  const top = hops[0];
  if (!top) return { reason: 'the original message carries no Received header' };
  const ours = new Set([...reporterDomains, top.by].map(organisationalDomain).filter((d): d is string => d !== undefined));
  for (const hop of hops) {
    const byOrg = organisationalDomain(hop.by);
    // A hop by a bare name (localhost, an internal host) is the reporter's too: only a named outside domain ends the walk.
    if (byOrg !== undefined && !ours.has(byOrg)) {
      return { reason: `the Received chain leaves the reporter's systems (a hop by ${hop.by}) before naming an outside sender` };
    }
    if (!hop.fromIp || !isPublicAddress(hop.fromIp)) continue;
    // The entry must be written by a named host of the reporter's: a hop with no "by", or by a bare name, proves nothing.
    if (byOrg === undefined) return { reason: `the hop from ${hop.fromIp} names no receiving host of the reporter's` };
    const rdnsOrg = organisationalDomain(hop.fromRdns);
    if (rdnsOrg !== undefined && ours.has(rdnsOrg)) continue;
    // Only the sender's own word says this hop is the reporter's: skipping it
    // would walk into headers the sender may have forged, taking it could
    // name the reporter's relay. Neither: an operator looks.
    const heloOrg = organisationalDomain(hop.fromHelo);
    if (heloOrg !== undefined && ours.has(heloOrg)) {
      return { reason: `the hop from ${hop.fromIp} names itself ${hop.fromHelo}, one of the reporter's domains, but nothing the reporter's host looked up confirms it` };
    }
    return { hop: { ...hop, fromIp: hop.fromIp } };
  }
  return { reason: "no Received hop names a public sender outside the reporter's systems" };
}
