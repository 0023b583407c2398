import { CordonError } from '../../proto/runtime/CordonError.js';
import { parseIp, type Cidr } from '../../proto/runtime/cidr.js';

const MAPPED_V4 = 0xffffn << 32n;
const LOW_64 = (1n << 64n) - 1n;

/**
 * An address as the 16-byte big-endian key host_prefixes compares with
 * memcmp: IPv6 as is, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). So
 * "203.0.113.5" and "::ffff:203.0.113.5" are the same key, and every IPv4
 * key sorts inside ::ffff:0:0/96.
 */
export function addressKey(family: 4 | 6, value: bigint): Buffer {
  const v = family === 4 ? MAPPED_V4 | value : value;
  const key = Buffer.alloc(16);
  key.writeBigUInt64BE(v >> 64n, 0);
  key.writeBigUInt64BE(v & LOW_64, 8);
  return key;
}

/** The key of an IP address given as text; `invalid` (naming `field`) if it is not one. */
export function ipKey(ip: string, field = 'ip'): Buffer {
  try {
    const { family, value } = parseIp(ip);
    return addressKey(family, value);
  } catch (err) {
    throw new CordonError('invalid', `${JSON.stringify(ip)} is not an IP address`, { field, cause: err });
  }
}

/** A prefix's first and last keys and its length in the 128-bit key space (IPv4 /24 → 120). */
export function prefixKeys(cidr: Cidr): { first: Buffer; last: Buffer; length: number } {
  const bits = cidr.family === 4 ? 32 : 128;
  const hostMask = (1n << BigInt(bits - cidr.prefixLength)) - 1n;
  return {
    first: addressKey(cidr.family, cidr.network),
    last: addressKey(cidr.family, cidr.network | hostMask),
    length: cidr.prefixLength + (cidr.family === 4 ? 96 : 0),
  };
}

/**
 * The first key of every prefix that could hold `key`: the key with its
 * last 128-L bits cleared, for each length L from 128 down to 0 (repeats
 * dropped). A stored prefix holds the address exactly when its first_addr
 * is one of these and its last_addr is not below the address, so a lookup
 * is at most 129 index probes whatever the table's size, and stays a true
 * longest-prefix match even if prefixes were ever nested.
 */
export function candidateFirstKeys(key: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const current = Buffer.from(key);
  out.push(Buffer.from(current));
  for (let bit = 127; bit >= 0; bit--) {
    const byte = bit >> 3;
    const mask = 1 << (7 - (bit & 7));
    if (current[byte]! & mask) {
      current[byte] = current[byte]! & ~mask;
      out.push(Buffer.from(current));
    }
  }
  return out;
}
