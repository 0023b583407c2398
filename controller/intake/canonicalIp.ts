import { isIP } from 'node:net';
import { formatIp, parseIp } from '../../proto/runtime/cidr.js';

/** An address read from a report: its canonical text, or why it was refused. */
export type IpReading = { ip: string; refused?: undefined } | { ip?: undefined; refused: string };

/**
 * One address as a report writes it ("192.0.2.1", "[2001:DB8::1]",
 * "IPv6:2001:db8::1", "::ffff:192.0.2.1") in the one form complaints carry:
 * IPv4 dotted quad, IPv6 in RFC 5952 form (lower case, longest zero run
 * compressed), an IPv4-mapped IPv6 address as its IPv4 address (the fleet
 * inventory holds IPv4 addresses that way).
 *
 * A zone id (fe80::1%eth0) is refused with a reason rather than dropped: it
 * names an interface on the reporter's own machine, and the only addresses
 * that carry one (link-local) are never a public offender.
 */
export function readCanonicalIp(text: string): IpReading {
  const token = text.trim().replace(/^\[(.*)\]$/, '$1').replace(/^ipv6:/i, '');
  if (token.includes('%')) {
    return { refused: `${token}: an IPv6 zone id names an interface on the reporter's side, and a link-local address is never a public offender` };
  }
  // isIP first: most tokens a notice offers are no address, and an exception per token is slow.
  if (isIP(token) === 0) return { refused: `${JSON.stringify(token.slice(0, 60))} is not an IP address` };
  let parsed: { family: 4 | 6; value: bigint };
  try {
    parsed = parseIp(token);
  } catch {
    return { refused: `${JSON.stringify(token.slice(0, 60))} is not an IP address` };
  }
  if (parsed.family === 6 && parsed.value >> 32n === 0xffffn) return { ip: formatIp(4, parsed.value & 0xffff_ffffn) };
  return { ip: formatIp(parsed.family, parsed.value) };
}

/** The canonical form of `text`, or undefined when it is no address or carries a zone id. */
export function canonicalIp(text: string): string | undefined {
  return readCanonicalIp(text).ip;
}
