import { canonicalIp } from '../canonicalIp.js';

/**
 * Reads one IP address as report fields write it — "192.0.2.1",
 * "[192.0.2.1]", "IPv6:2001:db8::1", "192.0.2.1 (mx.example)" — and returns
 * it in canonical form (canonicalIp: RFC 5952 for IPv6; a v4-mapped
 * address becomes its IPv4 form, since that is how the fleet inventory holds
 * it). Returns undefined for anything that is not an address: a field that
 * names a host or holds junk must never become an offender. An address with
 * a zone id comes back as written, for parseReport to refuse with its reason.
 *
 * Shared by the ARF and X-ARF parsers (Source-IP, Source, SourceIp,
 * source_identifier).
 */
export function readIp(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const token = value.trim().split(/[\s,;]+/, 1)[0]!;
  if (!token) return undefined;
  const ip = canonicalIp(token);
  // An address with a zone id is handed on as written: parseReport refuses it and says why.
  if (ip === undefined && token.includes('%') && canonicalIp(token.slice(0, token.indexOf('%'))) !== undefined) return token;
  return ip;
}

/**
 * The host of a URL when that host is an IP literal ("http://192.0.2.7/x",
 * "https://[2001:db8::7]/"), else undefined. A report whose source is a URL
 * on a literal address names the hosting server; a host name is left alone
 * (resolving it here would attribute shared or moved hosting).
 */
export function readUrlIp(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim())) return undefined;
  try {
    return readIp(new URL(value.trim()).hostname);
  } catch {
    return undefined;
  }
}
