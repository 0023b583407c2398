import { setTimeout as delay } from 'node:timers/promises';
import { asCordonError, type ErrorKind } from '../../../proto/runtime/CordonError.js';
import type { Logger } from '../../../proto/runtime/logger.js';
import { parseDnsblAddress } from './dnsblQueryName.js';
import { dnsblSettings, type DnsblSettings, type DnsblTunables } from './dnsblSettings.js';
import type { DnsblZone } from './DnsblZone.js';
import { diffListing, type KnownListing } from './diffListing.js';
import type { Delisting, Listing, ReportedListing } from './Listing.js';
import { lookupDnsbl, type DnsblAnswer, type LookupDnsbl } from './lookupDnsbl.js';
import { readReturnCodes } from './readReturnCodes.js';
import { runSpread, type Sleep } from './runSpread.js';

export interface DnsblMonitorDeps extends DnsblTunables {
  /** Every public address to watch, with its host; read at the start of each check. */
  addresses: () => Promise<{ hostId: string; ip: string }[]>;
  /** A new listing. If it throws, the listing is offered again at the next check. */
  onListed: (l: Listing) => Promise<void>;
  /** A reported listing that ended. If it throws, it is offered again at the next check. */
  onDelisted: (d: Delisting) => Promise<void>;
  /**
   * The listings reported before this process (kept by the caller, e.g. in
   * the store), read before the first check and again after a skipped one:
   * a listing already reported is not reported again, and one that ended
   * meanwhile is reported as a delisting. Absent: memory only. If it
   * throws, the check fails (nothing reported) and reads it again next time.
   */
  reported?: () => Promise<ReportedListing[]>;
  /**
   * Whether this process runs the next scheduled check (one replica of
   * several); asked before each one, not for checkOnce(). A check skipped
   * (false, or a throw) makes the next one re-read `reported`, since
   * another process may have reported meanwhile. Absent: always.
   */
  mayCheck?: () => Promise<boolean>;
  clock: () => Date;
  log: Logger;
  /** Tests only: waiting between spread lookups and checks. */
  sleep?: Sleep;
  /** Tests only: the DNS lookup. */
  lookup?: LookupDnsbl;
}

/** One address and zone whose check failed: nothing about it changed. */
export interface DnsblFailure {
  hostId: string;
  ip: string;
  zone: string;
  /** `lookup`: no usable answer; `report`: onListed/onDelisted threw. */
  stage: 'lookup' | 'report';
  kind: ErrorKind;
  message: string;
}

/** What one check did. */
export interface DnsblCheckSummary {
  startedAt: Date;
  /** Address × zone pairs due. */
  pairs: number;
  /** Pairs asked of the DNS, answered from the cache, and not reached before stop(). */
  lookups: number;
  cached: number;
  skipped: number;
  listed: Listing[];
  delisted: Delisting[];
  failures: DnsblFailure[];
}

interface Pair {
  key: string;
  hostId: string;
  ip: string;
  zone: DnsblZone;
}

const sleepFor: Sleep = (ms, signal) => delay(ms, undefined, { signal });

/**
 * Watches the provider's public addresses on DNS blocklists. Each check asks
 * every zone about every address (bounded, and spread when scheduled),
 * compares each answer with the last one, and reports a new listing
 * (onListed) or a reported listing that ended (onDelisted). A failed lookup
 * changes nothing: no listing, and no delisting of a listed address.
 *
 * What it saw is kept in memory; `reported` (when given) tells it what was
 * reported before this process, so a restart neither reports a listing
 * again nor misses its end. Without it, the first answer for an address and
 * zone after a start reports a current listing as new (`firstAnswer` set),
 * once: better than staying quiet at start, which would lose every listing
 * that appeared while the controller was down. Addresses that leave the
 * inventory are forgotten without a delisting (nobody asked about them).
 */
export class DnsblMonitor {
  private readonly s: DnsblSettings;
  private readonly log: Logger;
  private readonly sleep: Sleep;
  private readonly lookup: LookupDnsbl;
  /** Reported listings, by pair key. */
  private readonly known = new Map<string, KnownListing>();
  /** Pairs with an answer settled in this process (for Listing.firstAnswer). */
  private readonly answered = new Set<string>();
  private readonly cache = new Map<string, { answer: DnsblAnswer; at: Date }>();
  /** `reported` must be read before the next check. */
  private reseed = true;
  private lifetime = new AbortController();
  /** Checks run one at a time, so each compares with the last one's outcome. */
  private tail: Promise<unknown> = Promise.resolve();
  private loop: Promise<void> | undefined;

  /** Throws CordonError `invalid`, naming the field, for bad tunables or zones. */
  constructor(private readonly deps: DnsblMonitorDeps) {
    this.s = dnsblSettings(deps);
    this.log = deps.log.child({ component: 'dnsbl' });
    this.sleep = deps.sleep ?? sleepFor;
    this.lookup = deps.lookup ?? lookupDnsbl;
  }

  /** Checks now and then every intervalMs (from start to start), spread over spreadMs. Idempotent. */
  start(): void {
    if (this.loop) return;
    if (this.lifetime.signal.aborted) this.lifetime = new AbortController();
    this.loop = this.run(this.lifetime.signal);
  }

  /** Stops the schedule, lets lookups in flight end (each within timeoutMs), starts no more, and waits. */
  async stop(): Promise<void> {
    this.lifetime.abort();
    await this.loop;
    this.loop = undefined;
    await this.tail;
  }

  /**
   * Checks every address in every zone once, after any check still running.
   * `spreadMs` (default 0) spreads the lookups. Rejects only when the
   * address list cannot be read; failed lookups are in the summary.
   */
  checkOnce(opts: { spreadMs?: number } = {}): Promise<DnsblCheckSummary> {
    const run = this.tail.then(() => this.check(opts.spreadMs ?? 0, this.lifetime.signal));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const began = this.deps.clock().getTime();
      if (await this.myTurn()) {
        await this.checkOnce({ spreadMs: this.s.spreadMs }).catch((err: unknown) => this.log.error({ err: asCordonError(err).message }, 'dnsbl check failed'));
      }
      if (signal.aborted) return;
      try {
        await this.sleep(Math.max(0, began + this.s.intervalMs - this.deps.clock().getTime()), signal);
      } catch {
        return; // stopped
      }
    }
  }

  private async myTurn(): Promise<boolean> {
    if (!this.deps.mayCheck) return true;
    const mine = await this.deps.mayCheck().catch((err: unknown) => {
      this.log.warn({ err: asCordonError(err).message }, 'dnsbl: cannot tell whose turn the check is; skipped');
      return false;
    });
    if (!mine) {
      this.reseed = true;
      this.log.debug('dnsbl: another replica runs the checks; skipped');
    }
    return mine;
  }

  /** Replaces what is known by what was reported (deps.reported), when due. */
  private async seed(): Promise<void> {
    if (!this.reseed || !this.deps.reported) return;
    const reported = await this.deps.reported();
    this.known.clear();
    this.answered.clear();
    this.cache.clear();
    for (const r of reported) {
      try {
        this.known.set(`${r.zone} ${parseDnsblAddress(r.ip).ip}`, { codes: [...r.codes], lists: [...r.lists], since: r.since });
      } catch {
        this.log.warn({ ip: r.ip, zone: r.zone }, 'dnsbl: a reported listing names no IP address; ignored');
      }
    }
    this.reseed = false;
  }

  private async check(spreadMs: number, signal: AbortSignal): Promise<DnsblCheckSummary> {
    const startedAt = this.deps.clock();
    await this.seed();
    const pairs = await this.pairs();
    const summary: DnsblCheckSummary = { startedAt, pairs: pairs.length, lookups: 0, cached: 0, skipped: 0, listed: [], delisted: [], failures: [] };
    const due: Pair[] = [];
    for (const p of pairs) {
      const hit = this.cache.get(p.key);
      // After stop() nothing is reported, not even from the cache: runSpread skips what is due.
      if (hit && !signal.aborted && startedAt.getTime() - hit.at.getTime() < this.s.cacheMs) {
        summary.cached++;
        await this.settle(p, hit.answer, hit.at, summary);
      } else due.push(p);
    }
    const clock = () => this.deps.clock().getTime();
    summary.lookups = await runSpread(due, { concurrency: this.s.concurrency, spreadMs, now: clock, sleep: this.sleep, signal }, (p) => this.ask(p, summary));
    summary.skipped = due.length - summary.lookups;
    this.report(summary);
    return summary;
  }

  /** Every (address, zone) pair; forgets pairs no longer in it. Invalid addresses are logged and left out. */
  private async pairs(): Promise<Pair[]> {
    const pairs = new Map<string, Pair>();
    for (const { hostId, ip: raw } of await this.deps.addresses()) {
      let ip: string;
      try {
        ip = parseDnsblAddress(raw).ip;
      } catch {
        this.log.warn({ host: hostId, ip: raw }, 'dnsbl: not an IP address, not checked');
        continue;
      }
      for (const zone of this.s.zones) {
        const key = `${zone.zone} ${ip}`;
        if (!pairs.has(key)) pairs.set(key, { key, hostId, ip, zone });
      }
    }
    for (const map of [this.known, this.cache]) for (const key of map.keys()) if (!pairs.has(key)) map.delete(key);
    for (const key of this.answered) if (!pairs.has(key)) this.answered.delete(key);
    return [...pairs.values()];
  }

  private async ask(p: Pair, summary: DnsblCheckSummary): Promise<void> {
    let answer: DnsblAnswer;
    try {
      const wantReason = (codes: readonly string[]) => readReturnCodes(codes, p.zone).reportable.length > 0;
      answer = await this.lookup(p.ip, p.zone.zone, { servers: this.s.servers, timeoutMs: this.s.timeoutMs, wantReason });
    } catch (err) {
      const e = asCordonError(err);
      summary.failures.push({ hostId: p.hostId, ip: p.ip, zone: p.zone.zone, stage: 'lookup', kind: e.kind, message: e.message });
      return;
    }
    const at = this.deps.clock();
    this.cache.set(p.key, { answer, at });
    if (answer.listed && answer.reasonError) this.log.debug({ ip: p.ip, zone: p.zone.zone, err: answer.reasonError }, 'dnsbl: listing without its reason');
    await this.settle(p, answer, at, summary);
  }

  /** Compares an answer with what is known and reports the change; a report that throws leaves the state as it was. */
  private async settle(p: Pair, answer: DnsblAnswer, at: Date, summary: DnsblCheckSummary): Promise<void> {
    const change = diffListing({ known: this.known.get(p.key), answer, zone: p.zone, hostId: p.hostId, ip: p.ip, checkedAt: at, firstAnswer: !this.answered.has(p.key) });
    try {
      if (change.type === 'listed') {
        await this.deps.onListed(change.listing);
        this.known.set(p.key, change.known);
        summary.listed.push(change.listing);
        this.log.info({ host: p.hostId, ip: p.ip, zone: p.zone.zone, lists: change.listing.lists, category: change.listing.category, firstAnswer: change.listing.firstAnswer }, 'dnsbl listing');
      } else if (change.type === 'delisted') {
        await this.deps.onDelisted(change.delisting);
        this.known.delete(p.key);
        summary.delisted.push(change.delisting);
        this.log.info({ host: p.hostId, ip: p.ip, zone: p.zone.zone, lists: change.delisting.lists }, 'dnsbl delisting');
      } else if (change.known) this.known.set(p.key, change.known);
      else this.known.delete(p.key);
      this.answered.add(p.key);
    } catch (err) {
      const e = asCordonError(err);
      summary.failures.push({ hostId: p.hostId, ip: p.ip, zone: p.zone.zone, stage: 'report', kind: e.kind, message: e.message });
      this.log.warn({ host: p.hostId, ip: p.ip, zone: p.zone.zone, err: e.message }, `dnsbl: ${change.type === 'listed' ? 'onListed' : 'onDelisted'} failed; offered again at the next check`);
    }
  }

  private report(s: DnsblCheckSummary): void {
    const fields = { pairs: s.pairs, lookups: s.lookups, cached: s.cached, skipped: s.skipped, listed: s.listed.length, delisted: s.delisted.length, failed: s.failures.length };
    if (s.failures.length === 0) return this.log.info(fields, 'dnsbl check done');
    const byKind: Record<string, number> = {};
    for (const f of s.failures) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
    // One line per check, not per pair: a dead resolver fails every pair at once.
    this.log.warn({ ...fields, byKind, example: s.failures[0]!.message }, 'dnsbl check done, some checks failed (nothing changed for them)');
  }
}
