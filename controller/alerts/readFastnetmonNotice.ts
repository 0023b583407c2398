import { isIP } from 'node:net';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { count, object, string } from './readJson.js';

/** The details FastNetMon writes on the script's stdin for `ban` are a few kilobytes; more is not a notice. */
export const MAX_DETAILS_CHARS = 256 * 1024;

/**
 * What deploy/alerts/fastnetmon-notify.sh posts: FastNetMon 1.2's notify
 * script arguments (`IP direction pps action`) and, for `ban`, the attack
 * details it wrote on the script's stdin (`details`, or `detailsBase64` as
 * the script sends them, so any byte survives JSON).
 */
export interface FastnetmonNotice {
  ip: string;
  /** incoming (our host is the victim), outgoing (our host sends the attack), internal, other. */
  direction: string;
  pps: number | undefined;
  /** ban, unban, attack_details. */
  action: string;
  /** The details text, '' when none came. */
  details: string;
  /** `Key: value` lines of the details (first occurrence of each key, keys lower-case). */
  facts: Map<string, string>;
}

/** Reads the document; throws an `invalid` CordonError naming the field. */
export function readFastnetmonNotice(body: unknown): FastnetmonNotice {
  const o = object(body, 'body');
  const ip = string(o, 'ip', '', { required: true, max: 64 })!;
  if (!isIP(ip)) throw new CordonError('invalid', `${JSON.stringify(ip)} is not an IP address`, { field: 'ip' });
  const direction = string(o, 'direction', '', { required: true, max: 32 })!.toLowerCase();
  if (!/^[a-z_]+$/.test(direction)) throw new CordonError('invalid', 'must be incoming, outgoing, internal or other', { field: 'direction' });
  const action = string(o, 'action', '', { required: true, max: 32 })!.toLowerCase();
  if (!/^[a-z_]+$/.test(action)) throw new CordonError('invalid', 'must be ban, unban or attack_details', { field: 'action' });
  let details = string(o, 'details', '', { max: MAX_DETAILS_CHARS }) ?? '';
  const b64 = string(o, 'detailsBase64', '', { max: Math.ceil((MAX_DETAILS_CHARS * 4) / 3) + 4 });
  if (b64 !== undefined) {
    if (details !== '') throw new CordonError('invalid', 'give details or detailsBase64, not both', { field: 'detailsBase64' });
    if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(b64)) throw new CordonError('invalid', 'is not base64', { field: 'detailsBase64' });
    details = Buffer.from(b64, 'base64').toString('utf8');
  }
  return { ip, direction, pps: count(o, 'pps', ''), action, details, facts: readFacts(details) };
}

/** `Attack type: syn_flood` → attack type ⇒ syn_flood; the first occurrence of a key wins. */
function readFacts(details: string): Map<string, string> {
  const facts = new Map<string, string>();
  for (const line of details.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z][A-Za-z0-9 _/-]{0,60}?)\s*:\s*(.*?)\s*$/.exec(line);
    if (m && !facts.has(m[1]!.toLowerCase())) facts.set(m[1]!.toLowerCase(), m[2]!);
  }
  return facts;
}
