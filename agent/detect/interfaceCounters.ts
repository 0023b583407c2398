import { readFile } from 'node:fs/promises';

/** Packets and bytes sent so far through a set of interfaces. */
export interface SentCounters {
  packets: number;
  bytes: number;
}

/**
 * Sums the transmit counters of `interfaces` from a /proc/net/dev text, or
 * undefined when none of them is listed. Pure. Each line after the two
 * headers is `name: 8 receive fields, 8 transmit fields` (proc(5)); the
 * transmit bytes and packets are the 9th and 10th numbers.
 */
export function sentThrough(procNetDev: string, interfaces: readonly string[]): SentCounters | undefined {
  const wanted = new Set(interfaces);
  let found = false;
  let packets = 0;
  let bytes = 0;
  for (const line of procNetDev.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || !wanted.has(line.slice(0, colon).trim())) continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (fields.length < 16 || !Number.isFinite(fields[8]) || !Number.isFinite(fields[9])) continue;
    bytes += fields[8]!;
    packets += fields[9]!;
    found = true;
  }
  return found ? { packets, bytes } : undefined;
}

/**
 * Reads what the public interfaces sent, from the kernel's own counters:
 * free of any per-packet cost, and per network namespace (/proc/net is the
 * reading process's), which is what the flood detector's gate looks at.
 */
export function procSentCounters(interfaces: readonly string[], path = '/proc/net/dev'): () => Promise<SentCounters | undefined> {
  return async () => sentThrough(await readFile(path, 'utf8'), interfaces);
}
