import { ipKey } from './addressKey.js';
import type { HostsRepo, PrefixMatch } from './HostsRepo.js';

/**
 * IP → host by longest-prefix match, for one transaction's worth of
 * complaints: each matched prefix is remembered, so the next address inside
 * it needs no query (a Shadowserver report names many addresses of one
 * host). A prefix with another one nested inside it is not remembered, so
 * the cache never answers what the query would not. Valid only while
 * nothing changes the hosts: hold one per transaction.
 */
export class HostMatcher {
  /** Remembered prefixes, sorted by first key; they do not overlap. */
  private readonly ranges: PrefixMatch[] = [];
  private readonly misses = new Set<string>();
  /** Answers looked up ahead by `prefetch`, by key (hex). */
  private readonly known = new Map<string, PrefixMatch | null>();

  constructor(private readonly hosts: HostsRepo) {}

  /** Looks up many addresses in one go (invalid ones are skipped: `match` reports them). */
  async prefetch(ips: readonly string[]): Promise<void> {
    const keys: Buffer[] = [];
    for (const ip of ips) {
      try {
        keys.push(ipKey(ip));
      } catch {
        // match() names it.
      }
    }
    for (const [hex, found] of await this.hosts.matchKeys(keys)) {
      this.known.set(hex, found);
      if (found && !found.nested && this.ranges[this.search(found.first) - 1] !== found) {
        const at = this.search(found.first);
        const before = this.ranges[at - 1];
        if (!before || Buffer.compare(before.first, found.first) !== 0) this.ranges.splice(at, 0, found);
      }
    }
  }

  /** The host holding `ip`, or undefined when it is not ours. `invalid` if `ip` is not an address. */
  async match(ip: string): Promise<PrefixMatch | undefined> {
    const key = ipKey(ip);
    const at = this.search(key);
    const hit = this.ranges[at - 1];
    if (hit && Buffer.compare(key, hit.last) <= 0) return hit;
    const hex = key.toString('hex');
    const known = this.known.get(hex);
    if (known !== undefined) return known ?? undefined;
    if (this.misses.has(hex)) return undefined;
    const found = await this.hosts.matchKey(key);
    if (!found) {
      this.misses.add(hex);
      return undefined;
    }
    if (!(await this.hosts.hasNested(found))) this.ranges.splice(this.search(found.first), 0, found);
    return found;
  }

  /** How many remembered ranges start at or before `key`. */
  private search(key: Buffer): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (Buffer.compare(this.ranges[mid]!.first, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
