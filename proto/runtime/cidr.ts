import { isIP } from 'node:net';

/** An IPv4 or IPv6 prefix, its network address held as a bigint. */
export interface Cidr {
  family: 4 | 6;
  /** Network address with host bits cleared. */
  network: bigint;
  prefixLength: number;
  /** Canonical text, e.g. "203.0.113.0/24" or "2001:db8::/32". */
  text: string;
}

/** Parses an IP address (v4 or v6, v4-mapped v6 kept as v6) into a bigint. */
export function parseIp(text: string): { family: 4 | 6; value: bigint } {
  const family = isIP(text);
  if (family === 4) {
    const value = text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return { family: 4, value };
  }
  if (family === 6) return { family: 6, value: parseIpv6(text) };
  throw new Error(`${JSON.stringify(text)} is not an IP address`);
}

function parseIpv6(text: string): bigint {
  const zoneless = text.split('%')[0]!;
  let groups: string[];
  // Embedded IPv4 tail (::ffff:192.0.2.1): turn it into two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(zoneless);
  let head = zoneless;
  if (v4) {
    const n = parseIp(v4[1]!).value;
    head = zoneless.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  if (head.includes('::')) {
    const [left, right] = head.split('::') as [string, string];
    const l = left ? left.split(':') : [];
    const r = right ? right.split(':') : [];
    groups = [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  } else {
    groups = head.split(':');
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function formatIp(family: 4 | 6, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  // RFC 5952: compress the longest run (of two or more) of zero groups.
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len && j - i >= 2) best = { start: i, len: j - i };
    i = j;
  }
  if (best.start < 0) return groups.join(':');
  const left = groups.slice(0, best.start).join(':');
  const right = groups.slice(best.start + best.len).join(':');
  return `${left}::${right}`;
}

/** Parses "a.b.c.d/n", "v6/n", or a bare address (a host prefix). Host bits must be zero. */
export function parseCidr(text: string): Cidr {
  const [addr, len, extra] = text.trim().split('/');
  if (extra !== undefined || !addr) throw new Error(`${JSON.stringify(text)} is not a CIDR`);
  const { family, value } = parseIp(addr);
  const bits = family === 4 ? 32 : 128;
  const prefixLength = len === undefined ? bits : Number(len);
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > bits || (len !== undefined && !/^\d+$/.test(len))) {
    throw new Error(`${JSON.stringify(text)} has an invalid prefix length`);
  }
  const hostBits = BigInt(bits - prefixLength);
  const network = (value >> hostBits) << hostBits;
  if (network !== value) {
    throw new Error(`${JSON.stringify(text)} has host bits set (did you mean ${formatIp(family, network)}/${prefixLength}?)`);
  }
  return { family, network, prefixLength, text: `${formatIp(family, network)}/${prefixLength}` };
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  const parsed = parseIp(ip);
  if (parsed.family !== cidr.family) return false;
  const hostBits = BigInt((cidr.family === 4 ? 32 : 128) - cidr.prefixLength);
  return parsed.value >> hostBits === cidr.network >> hostBits;
}

/** Whether `inner` lies entirely within `outer`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.prefixLength > inner.prefixLength) return false;
  const hostBits = BigInt((outer.family === 4 ? 32 : 128) - outer.prefixLength);
  return inner.network >> hostBits === outer.network >> hostBits;
}

/**
 * Drops prefixes covered by another in the list (and duplicates), keeping the
 * order of the rest: nftables interval sets refuse overlapping elements.
 */
export function collapseCidrs(list: Cidr[]): Cidr[] {
  return list.filter((c, i) => !list.some((o, j) => j !== i && cidrCovers(o, c) && (o.prefixLength < c.prefixLength || j < i)));
}
