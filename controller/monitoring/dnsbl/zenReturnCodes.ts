import type { DnsblCodes } from './DnsblZone.js';

/**
 * What each answer of Spamhaus ZEN (zen.spamhaus.org, and a DQS key's
 * KEY.zen.dq.spamhaus.net) means, after Spamhaus's published table of
 * return codes ("Available Zones", docs.spamhaus.com/datasets/docs/source/
 * 10-data-type-documentation/datasets/040-zones.html). An address may get
 * several codes at once (SBL and XBL; DROP always comes with SBL).
 */
export const ZEN_RETURN_CODES: DnsblCodes = {
  // SBL: a spam source or spam support service, listed by hand by Spamhaus.
  '127.0.0.2': { list: 'SBL', category: 'spam' },
  // SBL CSS: automated listings of low-reputation senders (snowshoe spam).
  '127.0.0.3': { list: 'SBL CSS', category: 'spam' },
  // XBL: a machine running exploited software, a proxy or a bot (CBL data).
  // Spamhaus answers .4 today and keeps .5 to .7 for XBL ("currently unused").
  // Category botnet, not malware: malware is acted on at once by default,
  // and a third party's view of an address (shared addresses, NAT, stale
  // data) must not cut a server before its customer has heard of it.
  '127.0.0.4': { list: 'XBL', category: 'botnet' },
  '127.0.0.5': { list: 'XBL', category: 'botnet' },
  '127.0.0.6': { list: 'XBL', category: 'botnet' },
  '127.0.0.7': { list: 'XBL', category: 'botnet' },
  // DROP/EDROP: a range hijacked or run by spammers; "always in addition to SBL".
  '127.0.0.9': { list: 'DROP', category: 'spam' },
  // PBL: a range that should not send mail directly to MX hosts, declared by
  // the ISP (.10) or by Spamhaus (.11). A policy, not an observation of abuse:
  // never a complaint. A dedicated server's address can sit in it by default.
  '127.0.0.10': { list: 'PBL', category: 'ignore' },
  '127.0.0.11': { list: 'PBL', category: 'ignore' },
};

/**
 * Answers that are not listings but say the query itself failed. Spamhaus
 * introduced them in 2021 for its public mirrors ("Using our public mirrors?
 * Check your return codes now"; spamhaus.org/faqs/dnsbl-usage) and says they
 * must never be used to reject or filter anything.
 */
export const DNSBL_ERROR_CODES: Readonly<Record<string, { reason: string; kind: 'invalid' | 'permission' | 'transient' }>> = {
  // The zone name is wrong (a typo such as zin.spamhaus.org): fix the config.
  '127.255.255.252': { reason: 'the DNSBL says its zone name is mistyped', kind: 'invalid' },
  // The query came through a public/open resolver or one with generic rDNS,
  // which the public mirrors refuse: use a resolver of our own (dnsServers).
  '127.255.255.254': { reason: 'the DNSBL refuses queries through this (public or unattributable) resolver', kind: 'permission' },
  // Too many queries from this resolver: back off, or buy a feed.
  '127.255.255.255': { reason: 'the DNSBL rate-limits this resolver (excessive number of queries)', kind: 'transient' },
};

/**
 * Whether an answer is an error rather than a listing. Beyond the three named
 * codes, all of 127.255.255.0/24 counts as one: no list we know puts listings
 * there, and reading an unknown error as a listing would file a complaint
 * against a customer for our resolver's problem.
 */
export function isDnsblErrorCode(code: string): boolean {
  return code.startsWith('127.255.255.');
}
