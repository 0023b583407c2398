import type { DnsblAnswer, LookupDnsbl, LookupOptions } from '../../../controller/monitoring/dnsbl/lookupDnsbl.js';

/** A DNSBL that answers from a script: `${zone} ${ip}` → answer or error (default: not listed). */
export class ScriptedLookup {
  readonly answers = new Map<string, DnsblAnswer | Error>();
  readonly calls: { ip: string; zone: string; opts: LookupOptions }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** When set, every lookup waits for it (to hold lookups in flight). */
  gate: Promise<void> | undefined;

  list(zone: string, ip: string, codes: string[], reasons: string[] = []): void {
    this.answers.set(`${zone} ${ip}`, { listed: true, codes, reasons });
  }

  clear(zone: string, ip: string): void {
    this.answers.delete(`${zone} ${ip}`);
  }

  fail(zone: string, ip: string, err: Error): void {
    this.answers.set(`${zone} ${ip}`, err);
  }

  readonly lookup: LookupDnsbl = async (ip, zone, opts) => {
    this.calls.push({ ip, zone, opts });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.gate) await this.gate;
      else await Promise.resolve();
      const a = this.answers.get(`${zone} ${ip}`) ?? { listed: false };
      if (a instanceof Error) throw a;
      // What the real lookup does: the reason only when asked for.
      return a.listed && opts.wantReason && !opts.wantReason(a.codes) ? { ...a, reasons: [] } : a;
    } finally {
      this.inFlight--;
    }
  };
}
