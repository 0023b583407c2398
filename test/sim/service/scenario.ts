import type { Category } from '../../../controller/incidents/model.js';
import { Rng } from '../rng.js';
import type { DomainName } from './reports.js';

/**
 * The seeded plan of a simulated stretch of the abuse desk driven through
 * the real service: customers and their hosts (IPv4 and IPv6 prefixes,
 * BMCs), and every report that will arrive — genuine ones from registered
 * reporters, re-sends of them, forgeries, anonymous floods — plus the BMC
 * and agent outages and the operators' desk sweeps. Pure: the same seed and
 * size give the same plan. What customers and operators decide is drawn
 * while the world runs (actors.ts), from RNGs keyed by stable names.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MINUTE = 60_000;

export interface SimSize {
  label: string;
  customers: number;
  hostsPerCustomer: [number, number];
  /** Length of the run; reports arrive in the first days - 5. */
  days: number;
  /** Reports planned before re-sends are added. */
  reports: number;
}

export const SMALL: SimSize = { label: 'small', customers: 5, hostsPerCustomer: [2, 4], days: 21, reports: 60 };
export const LARGE: SimSize = { label: 'large', customers: 14, hostsPerCustomer: [3, 6], days: 100, reports: 900 };

/** diligent: answers every notice in time; negligent: mostly silent or late. */
export type Disposition = 'diligent' | 'mixed' | 'negligent';

export interface SimCustomer {
  id: string;
  name: string;
  email: string;
  disposition: Disposition;
}

export interface SimHost {
  id: string;
  customerId: string;
  prefixes: string[];
  /** Addresses inside the prefixes that reports name (IPv6 spelled as reporters write them). */
  ips: string[];
  bmc: boolean;
  /** How often it is complained about, relative to others. */
  weight: number;
}

export type ReportKind = 'genuine' | 'rights' | 'anonymous' | 'forged' | 'late' | 'preempt' | 'resend';
export type Reporter = 'fbl' | 'cert' | 'noc' | 'rights' | 'shadowserver' | 'anon';
/** other_domain: signed by attacker.example; unsigned; tampered: signed by the real key, body changed after. */
export type Forgery = 'other_domain' | 'unsigned' | 'tampered';
export type ResendHow = 'same_bytes' | 'maildir' | 'forward_signed' | 'forward_unsigned';

export interface ReportTarget {
  /** Undefined for an address that is not ours. */
  hostId: string | undefined;
  ip: string;
  category: Category;
  eventTime: number;
}

export interface PlannedReport {
  id: string;
  at: number;
  kind: ReportKind;
  format: 'arf' | 'xarf' | 'csv';
  reporter: Reporter;
  /** feed: submitted with the reporter's feed certificate; relay: a maildir or an operator passes it on. */
  channel: 'relay' | 'feed';
  targets: ReportTarget[];
  /** The trusted domain a forgery claims in From. */
  forgedDomain?: DomainName | undefined;
  forgery?: Forgery | undefined;
  /** Signed by freemail.example (aligned, but nobody registered it) instead of unsigned. */
  freemailSigned?: boolean | undefined;
  csvType?: string | undefined;
  /** An ARF's quoted original Message-ID (a pre-empting forgery and the genuine report share it). */
  originalMessageId?: string | undefined;
  resendOf?: string | undefined;
  resendHow?: ResendHow | undefined;
}

export interface Outage {
  hostId: string;
  from: number;
  to: number;
}

export interface Scenario {
  seed: number;
  size: SimSize;
  t0: number;
  end: number;
  customers: SimCustomer[];
  hosts: SimHost[];
  /** Addresses that are not ours. */
  strays: string[];
  reports: PlannedReport[];
  bmcOutages: Outage[];
  agentOutages: Outage[];
  /** When the operators go through the desk. */
  sweeps: number[];
}

export const T0 = Date.parse('2026-11-02T09:00:00Z');

const CERT_CATEGORIES: Record<string, number> = { phishing: 25, malware: 12, botnet: 20, ddos: 8, scan: 15, brute_force: 20 };
const NOC_CATEGORIES: Record<string, number> = { scan: 40, brute_force: 40, ddos: 20 };
const CSV_TYPES: Record<string, number> = { botnet_drone: 40, darknet: 35, honeypot_brute_force: 25 };
export const CSV_CATEGORY: Record<string, Category> = { botnet_drone: 'botnet', darknet: 'scan', honeypot_brute_force: 'brute_force' };

function poisson(rng: Rng, mean: number): number {
  let n = 0;
  for (let t = -Math.log(1 - rng.next()); t < mean; t += -Math.log(1 - rng.next())) n++;
  return n;
}

function hostsOf(rng: Rng, size: SimSize): { customers: SimCustomer[]; hosts: SimHost[] } {
  const customers: SimCustomer[] = [];
  const hosts: SimHost[] = [];
  let n = 0;
  for (let c = 0; c < size.customers; c++) {
    // Two diligent customers at least, so "answered in time" has hosts to hold to it.
    const disposition: Disposition = c < 2 ? 'diligent' : rng.weighted({ diligent: 35, mixed: 40, negligent: 25 });
    const customer = { id: `cust-${c + 1}`, name: `Customer ${c + 1}`, email: `ops@cust-${c + 1}.example`, disposition };
    customers.push(customer);
    const count = rng.int(size.hostsPerCustomer[0], size.hostsPerCustomer[1]);
    for (let k = 0; k < count; k++, n++) {
      // A /29 or a /32 in 198.18.0.0/15 (one aligned block of 8 per host), and for most an IPv6 /64.
      const base = `198.18.${n >> 5}.${(n & 31) * 8}`;
      const wide = rng.chance(0.5);
      const prefixes = [wide ? `${base}/29` : `${base}/32`];
      const ips = wide ? [1, 2, 5].map((o) => `198.18.${n >> 5}.${(n & 31) * 8 + o}`) : [base];
      if (rng.chance(0.6)) {
        const net = (n + 1).toString(16);
        prefixes.push(`2001:db8:${net}::/64`);
        ips.push(`2001:db8:${net}::${rng.int(1, 0xfff).toString(16)}`, `2001:db8:${net}:0:${rng.int(1, 0xffff).toString(16)}::25`);
      }
      hosts.push({ id: `c${c + 1}-web-${k + 1}`, customerId: customer.id, prefixes, ips, bmc: rng.chance(0.9), weight: rng.chance(0.25) ? 6 : 1 });
    }
  }
  return { customers, hosts };
}

function pickHost(rng: Rng, hosts: SimHost[]): SimHost {
  const total = hosts.reduce((s, h) => s + h.weight, 0);
  let r = rng.next() * total;
  for (const h of hosts) {
    r -= h.weight;
    if (r < 0) return h;
  }
  return hosts[hosts.length - 1]!;
}

export function generateScenario(seed: number, size: SimSize): Scenario {
  const rng = new Rng(seed);
  const { customers, hosts } = hostsOf(rng.fork(1), size);
  const end = T0 + size.days * DAY;
  const strays = Array.from({ length: 6 }, (_, i) => (i % 2 ? `2001:db8:ffff::${i + 1}` : `192.0.2.${i + 10}`));
  const plan = rng.fork(2);
  const reports: PlannedReport[] = [];
  let seq = 0;
  const id = () => `r${++seq}`;
  const arrival = () => T0 + HOUR + Math.floor(plan.next() * (size.days - 5) * DAY);
  const target = (h: SimHost, category: Category, at: number, back: [number, number] = [10 * MINUTE, 8 * HOUR]): ReportTarget => ({
    hostId: h.id,
    ip: plan.pick(h.ips),
    category,
    eventTime: at - plan.int(back[0], back[1]),
  });

  const genuine = (at: number, kind: 'genuine' | 'late'): PlannedReport => {
    const reporter = plan.weighted({ fbl: 35, cert: 30, noc: 15, shadowserver: 20 }) as Reporter;
    const back: [number, number] = kind === 'late' ? [3 * DAY, 12 * DAY] : [10 * MINUTE, 8 * HOUR];
    if (reporter === 'shadowserver') {
      const csvType = plan.weighted(CSV_TYPES);
      const rows = Array.from({ length: plan.int(1, 4) }, () => target(pickHost(plan, hosts), CSV_CATEGORY[csvType]!, at, [HOUR, 20 * HOUR]));
      for (let s = plan.int(0, 2); s > 0; s--) rows.push({ hostId: undefined, ip: plan.pick(strays), category: CSV_CATEGORY[csvType]!, eventTime: at - HOUR });
      return { id: id(), at, kind, format: 'csv', reporter, channel: 'feed', targets: rows, csvType };
    }
    const category = (reporter === 'fbl' ? 'spam' : plan.weighted(reporter === 'cert' ? CERT_CATEGORIES : NOC_CATEGORIES)) as Category;
    const stray = plan.chance(0.04);
    const t = stray ? { hostId: undefined, ip: plan.pick(strays), category, eventTime: at - HOUR } : target(pickHost(plan, hosts), category, at, back);
    return { id: id(), at, kind, format: reporter === 'fbl' ? 'arf' : 'xarf', reporter, channel: 'relay', targets: [t] };
  };

  for (let k = 0; k < size.reports; k++) {
    const at = arrival();
    const kind = plan.weighted({ genuine: 50, anonymous: 12, flood: 3, forged: 14, rights: 4, late: 6 });
    if (kind === 'genuine' || kind === 'late') {
      reports.push(genuine(at, kind));
    } else if (kind === 'rights') {
      reports.push({ id: id(), at, kind, format: 'xarf', reporter: 'rights', channel: 'relay', targets: [target(pickHost(plan, hosts), 'copyright', at)] });
    } else if (kind === 'anonymous' || kind === 'flood') {
      // A flood: one host named again and again by people nobody registered, within two hours.
      const h = pickHost(plan, hosts);
      const category: Category = plan.pick(['spam', 'scan', 'malware', 'phishing', 'ddos']);
      for (let n = kind === 'flood' ? plan.int(4, 12) : 1; n > 0; n--) {
        const when = at + plan.int(0, 2 * HOUR);
        const format = plan.weighted({ arf: 35, xarf: 35, csv: 30 }) as PlannedReport['format'];
        const c = format === 'arf' ? 'spam' : format === 'csv' ? 'scan' : category;
        reports.push({ id: id(), at: when, kind: 'anonymous', format, reporter: 'anon', channel: 'relay', targets: [target(h, c, when)], freemailSigned: plan.chance(0.5), csvType: format === 'csv' ? 'darknet' : undefined });
      }
    } else {
      const forgedDomain = plan.pick(['fbl', 'cert', 'noc'] as const);
      const category = (forgedDomain === 'fbl' ? 'spam' : plan.weighted(forgedDomain === 'cert' ? CERT_CATEGORIES : NOC_CATEGORIES)) as Category;
      const forgery = plan.weighted({ other_domain: 35, unsigned: 30, tampered: 35 }) as Forgery;
      reports.push({ id: id(), at, kind: 'forged', format: forgedDomain === 'fbl' ? 'arf' : 'xarf', reporter: forgedDomain, channel: 'relay', targets: [target(pickHost(plan, hosts), category, at)], forgedDomain, forgery });
    }
  }

  // The pre-empting forgery: an unsigned ARF quoting the spam's own Message-ID, sent just before the genuine FBL report.
  for (let n = Math.max(1, Math.round(size.reports / 60)); n > 0; n--) {
    const at = arrival();
    const h = pickHost(plan, hosts);
    const t = target(h, 'spam', at);
    const originalMessageId = `spam-${seed}-${seq}@shop.example`;
    reports.push({ id: id(), at, kind: 'preempt', format: 'arf', reporter: 'fbl', channel: 'relay', targets: [t], forgedDomain: 'fbl', forgery: 'unsigned', originalMessageId });
    reports.push({ id: id(), at: at + plan.int(5 * MINUTE, HOUR), kind: 'genuine', format: 'arf', reporter: 'fbl', channel: 'relay', targets: [t], originalMessageId });
  }

  // Re-sends: a quarter of the reports come again, minutes, days or weeks later.
  const resend = rng.fork(3);
  for (const r of [...reports]) {
    if (!resend.chance(0.28)) continue;
    const delay = resend.weighted({ soon: 40, days: 30, weeks: 30 });
    const after = delay === 'soon' ? resend.int(5 * MINUTE, 6 * HOUR) : delay === 'days' ? resend.int(DAY, 5 * DAY) : resend.int(14 * DAY, 40 * DAY);
    if (r.at + after >= end - DAY) continue;
    const how = (r.format === 'csv' ? 'same_bytes' : r.format === 'arf' ? resend.weighted({ same_bytes: 35, maildir: 20, forward_signed: 25, forward_unsigned: 20 }) : resend.weighted({ same_bytes: 50, maildir: 20, forward_signed: 30 })) as ResendHow;
    reports.push({ ...r, id: id(), at: r.at + after, kind: 'resend', resendOf: r.id, resendHow: how });
  }
  reports.sort((a, b) => a.at - b.at || Number(a.id.slice(1)) - Number(b.id.slice(1)));

  const outages = rng.fork(4);
  const bmcOutages: Outage[] = [];
  const agentOutages: Outage[] = [];
  for (const h of hosts) {
    if (h.bmc) {
      for (let n = poisson(outages, size.days / 10); n > 0; n--) {
        const from = T0 + Math.floor(outages.next() * size.days * DAY);
        bmcOutages.push({ hostId: h.id, from, to: from + outages.int(2 * HOUR, 3 * DAY) });
      }
    }
    for (let n = poisson(outages, size.days / 30); n > 0; n--) {
      const from = T0 + Math.floor(outages.next() * size.days * DAY);
      agentOutages.push({ hostId: h.id, from, to: from + outages.int(HOUR, 12 * HOUR) });
    }
  }
  const sweeps: number[] = [];
  const desk = rng.fork(5);
  for (let t = T0 + 2 * HOUR; t < end; t += desk.int(2 * HOUR, 6 * HOUR)) sweeps.push(t);
  return { seed, size, t0: T0, end, customers, hosts, strays, reports, bmcOutages, agentOutages, sweeps };
}
