import { parseCidr, cidrContains, type Cidr } from '../../proto/runtime/cidr.js';

/**
 * Ranges that never name a sending host on the public Internet (IANA
 * special-purpose registries, RFC 6890 and successors): private, shared
 * (CGNAT), loopback, link-local, unspecified, benchmarking, multicast,
 * reserved, unique-local. A Received hop from one of them is a relay inside
 * the reporter's own network. The documentation ranges (RFC 5737, RFC 3849)
 * are deliberately absent: no internal relay uses them, and the examples
 * of the specifications (and this project's samples) are written with them.
 */
const SPECIAL: readonly Cidr[] = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24',
  '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4',
  '::/127', '::ffff:0:0/96', '64:ff9b:1::/48', '100::/64', 'fc00::/7', 'fe80::/10', 'ff00::/8',
].map(parseCidr);

/** Whether `ip` (canonical text) may be a public Internet host. */
export function isPublicAddress(ip: string): boolean {
  try {
    return !SPECIAL.some((c) => cidrContains(c, ip));
  } catch {
    return false;
  }
}
