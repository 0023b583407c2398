import type { DnsblZone } from './DnsblZone.js';
import type { Listing } from './Listing.js';
import { readReturnCodes, type CodeMeaning } from './readReturnCodes.js';

/** A list's reason (its TXT record) as shown: at most this many characters, and this many reasons. */
const MAX_REASON_CHARS = 300;
const MAX_REASONS = 4;

/** Where a person looks a listing up and asks for its removal, for the zones we know. */
function lookupOf(zone: string): string | undefined {
  if (zone === 'zen.spamhaus.org' || zone.endsWith('.zen.dq.spamhaus.net')) return 'https://check.spamhaus.org/ (Spamhaus)';
  return undefined;
}

/** A third party's text, made safe to show: no control characters, bounded. */
function cleanReason(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > MAX_REASON_CHARS ? `${flat.slice(0, MAX_REASON_CHARS)}…` : flat;
}

const named = (ms: readonly CodeMeaning[]) => ms.map((m) => `${m.list} (code ${m.code})`).join(', ');

/**
 * A listing as the complaint's evidence, in words the customer reads (pure):
 * the address and its host, the zone, each list with its return code, the
 * list's own reason (TXT), what the listing means for their mail, and how to
 * look it up and ask for removal. `filing` names the codes this complaint
 * is for when it is not the whole listing (a list added to a listing
 * already filed). Codes the zone's table does not know say so, with the
 * category they were filed under (`other`); ignored codes (PBL) are named
 * as what they are: a policy listing, not the complaint.
 */
export function describeListing(l: Listing, zone: DnsblZone, filing: readonly string[] = l.newCodes): string {
  const { reportable, ignored } = readReturnCodes(l.codes, zone);
  const unknown = reportable.filter((m) => m.category === 'unknown');
  const newer = reportable.filter((m) => filing.includes(m.code));
  const reasons = l.reasons.slice(0, MAX_REASONS).map(cleanReason).filter(Boolean);
  const lookup = lookupOf(l.zone);
  return [
    `${l.ip} (server ${l.hostId}) is listed on the DNS blocklist ${l.zone}: ${named(reportable)}.`,
    newer.length > 0 && newer.length < reportable.length ? `New since the listing was first reported: ${named(newer)}.` : '',
    ...reasons.map((r) => `The list's reason: ${r}`),
    l.reasons.length > MAX_REASONS ? `(${l.reasons.length - MAX_REASONS} more reasons not shown.)` : '',
    ignored.length > 0 ? `Also on ${named(ignored)}: a policy listing of the address range, not part of this complaint.` : '',
    unknown.length > 0 ? `Code ${unknown.map((m) => m.code).join(', ')} is not in Cordon's table for ${l.zone}, so the complaint is filed as category "other"; the list's reason above says what it means.` : '',
    `Seen by Cordon's own check of our addresses at ${l.checkedAt.toISOString()} (a DNS query to ${l.zone}).`,
    'Mail servers that use this list may refuse mail from this address while it is listed.',
    `To see why and to ask for removal: ${lookup ? `look the address up at ${lookup}` : `follow the reason's link above, or the removal procedure on the website of the list that runs ${l.zone}`}, once the cause is fixed (a list usually lists an address again while its cause remains).`,
  ]
    .filter(Boolean)
    .join('\n');
}
