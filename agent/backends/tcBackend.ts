import { CordonError } from '../../proto/runtime/CordonError.js';
import { runChecked, type CommandRunner } from '../../proto/runtime/CommandRunner.js';
import type { EnforcementPlan } from '../enforce/plan.js';
import type { Backend } from './Backend.js';

/**
 * THROTTLE: every public interface's traffic, both directions, through a token
 * bucket Cordon owns. The objects, per public interface with ifindex N:
 *
 *   pub0  clsact qdisc (coexists with whatever root qdisc the customer has)
 *         egress  filter pref 49374: u32 match-all → mirred redirect to cdneN
 *         ingress filter pref 49374: u32 match-all → mirred redirect to cdniN
 *   cdneN, cdniN  ifb devices, each with root `tbf` handle 1: at the rate
 *
 * u32 + mirred + ifb because that is what minimal kernels have (no matchall,
 * flower or act_police). TBF rather than HTB on the ifb: `tc -j class show`
 * has no JSON in iproute2 6.1 and its text truncates rates (12345678bit reads
 * back as 12345Kbit), while a tbf qdisc reports its exact rate in JSON; one
 * object per ifb also leaves no "HTB default class missing → traffic goes out
 * unshaped" half-state.
 *
 * Ownership: pref 49374 on clsact and devices named cdne/cdni+digits are
 * Cordon's, whatever interface they sit on. Whether Cordon created the clsact
 * is written into the kernel itself, as the alias of cdneN (`ip link set …
 * alias`), so it survives an agent restart and vanishes with the throttle. On
 * release the clsact is deleted only if that alias says Cordon created it and
 * no one else's filter sits on it; when in doubt (no alias) it stays: an empty
 * clsact is harmless, deleting a customer's takes their filters with it.
 */
const PREF = 49374;
const IFB_PREFIX = { egress: 'cdne', ingress: 'cdni' } as const;
const ALIAS_CLSACT_OURS = 'cordon-tc clsact=cordon';
const ALIAS_CLSACT_THEIRS = 'cordon-tc clsact=preexisting';
const ALIAS_INGRESS = 'cordon-tc';
/** 100 Gbit/s: above any port Cordon throttles; burst and limit still fit tbf's u32 fields. */
const MAX_BPS = 100_000_000_000;
/**
 * 8 kbit/s: tbf stores its burst as time in u32 ticks (≈275 s); a 64 KiB
 * bucket at lower rates overflows silently and tbf then passes nothing.
 */
const MIN_BPS = 8_000;
/** One full GSO/GRO super-packet: a smaller bucket stalls TCP below the rate. */
const MIN_BURST = 64 * 1024;

type Direction = 'egress' | 'ingress';
const DIRECTIONS: readonly Direction[] = ['egress', 'ingress'];

export interface TcObserved {
  interfaces: {
    name: string;
    /** Cordon's throttle in bits/s when both directions are in place at the same rate. */
    rateBps: number | undefined;
    egress: boolean;
    ingress: boolean;
  }[];
}

interface Link {
  ifindex: number;
  name: string;
  up: boolean;
  alias: string | undefined;
}

interface IfbState {
  name: string;
  up: boolean;
  alias: string | undefined;
  /** The root qdisc unless it is the kernel's default (handle 0:). */
  root: { kind: string; handle: string; rateBytes: number | undefined } | undefined;
}

/** Everything Cordon reads about one public interface and its two ifbs. */
interface IfaceState {
  name: string | undefined; // undefined: only orphan ifbs are left of it
  ifindex: number;
  clsact: boolean;
  /** An `ingress` qdisc: excludes clsact, so Cordon cannot attach. */
  ingressQdisc: boolean;
  /** Cordon's pref exists in that direction; `correct` when it redirects to the right ifb. */
  filters: Record<Direction, { present: boolean; correct: boolean }>;
  foreignFilters: boolean;
  ifb: Record<Direction, IfbState | undefined>;
}

type Command = [command: 'ip' | 'tc', ...args: string[]];

/**
 * The THROTTLE backend. `apply` converges every public interface to the plan's
 * rate (or removes Cordon's objects when `throttleBps` is undefined), issuing
 * only the commands that change something, so a second apply of the same plan
 * only reads. It also removes Cordon's objects from interfaces no longer in
 * the plan. Errors: `invalid` for a bad rate or a missing interface (nothing
 * changed), `conflict` when an interface has an `ingress` qdisc, `transient`
 * when a tc/ip command fails (the other interfaces are still converged).
 */
export class TcBackend implements Backend<TcObserved> {
  readonly name = 'tc';

  constructor(private readonly runner: CommandRunner) {}

  async apply(plan: EnforcementPlan): Promise<void> {
    const rate = plan.throttleBps;
    if (rate !== undefined) validateRate(rate);
    const links = await this.readLinks();
    if (rate !== undefined) {
      const missing = plan.publicInterfaces.filter((n) => !links.has(n));
      if (missing.length > 0) throw new CordonError('invalid', `no such public interface: ${missing.join(', ')}`, { field: 'interfaces.public' });
    }
    const { wanted, others } = await this.readAll(plan, links);
    if (rate !== undefined) {
      const blocked = wanted.filter((s) => s.ingressQdisc);
      if (blocked.length > 0) {
        throw new CordonError('conflict', `an ingress qdisc on ${blocked.map((s) => s.name).join(', ')} excludes the clsact qdisc the throttle needs`);
      }
    }
    const plans = [
      ...wanted.map((s) => (rate === undefined ? planRemoval(s) : planThrottle(s, rate))),
      ...others.map(planRemoval),
    ];
    await this.execute(plans);
  }

  /**
   * What is really in place per plan interface: a direction counts only when
   * clsact, Cordon's redirect, an up ifb and its bucket are all there. An
   * interface that does not exist reports nothing in place.
   */
  async observe(plan: EnforcementPlan): Promise<TcObserved> {
    const links = await this.readLinks();
    // A direction is in place only with its ifb, so an interface with neither
    // (every unthrottled host, at every drift check) needs no tc reads.
    const withIfb = plan.publicInterfaces.filter((name) => {
      const ifindex = links.get(name)?.ifindex;
      return ifindex !== undefined && DIRECTIONS.some((d) => links.has(`${IFB_PREFIX[d]}${ifindex}`));
    });
    const { wanted } = await this.readAll({ ...plan, publicInterfaces: withIfb }, links);
    const byName = new Map(wanted.map((s) => [s.name, s]));
    return {
      interfaces: plan.publicInterfaces.map((name) => {
        const s = byName.get(name);
        const ready = (d: Direction): number | undefined => {
          const ifb = s?.ifb[d];
          const ok = s !== undefined && s.clsact && s.filters[d].correct && ifb?.up === true;
          return ok ? ifb?.root?.rateBytes : undefined;
        };
        const [e, i] = [ready('egress'), ready('ingress')];
        return { name, rateBps: e !== undefined && e === i ? e * 8 : undefined, egress: e !== undefined, ingress: i !== undefined };
      }),
    };
  }

  /** Removes every Cordon tc object on this host (plan interfaces and orphans), nothing else. */
  async release(plan: EnforcementPlan): Promise<void> {
    const { wanted, others } = await this.readAll(plan, await this.readLinks());
    await this.execute([...wanted, ...others].map(planRemoval));
  }

  /**
   * Runs each interface's commands in order; one interface's failure does not
   * stop the others. Consecutive commands of one tool go to it as one batch
   * (`ip -batch -`, `tc -batch -`): a process start costs more than the
   * change itself, and an apply from empty went from 9 starts to 2. A batch
   * stops at its first failing line, as the commands one by one did.
   */
  private async execute(plans: Command[][]): Promise<void> {
    const errors: unknown[] = [];
    for (const commands of plans) {
      try {
        for (const [tool, lines] of batches(commands)) {
          if (lines.length > 1 && lines.every(batchable)) {
            await runChecked(this.runner, tool, ['-batch', '-'], { input: lines.map(batchLine).join('\n') + '\n' });
          } else {
            for (const args of lines) await runChecked(this.runner, tool, args);
          }
        }
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) {
      const message = errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
      throw new CordonError('transient', message, { cause: new AggregateError(errors) });
    }
  }

  /** The plan's interfaces that exist, and interfaces (or their remains) that only have Cordon's ifbs. */
  private async readAll(plan: EnforcementPlan, links: Map<string, Link>): Promise<{ wanted: IfaceState[]; others: IfaceState[] }> {
    const wanted: IfaceState[] = [];
    for (const name of plan.publicInterfaces) {
      const link = links.get(name);
      if (link) wanted.push(await this.readIface(link.ifindex, name, links));
    }
    const taken = new Set(wanted.map((s) => s.ifindex));
    const orphanIndexes = new Set<number>();
    for (const name of links.keys()) {
      const m = /^cdn[ei](\d+)$/.exec(name);
      if (m && !taken.has(Number(m[1]))) orphanIndexes.add(Number(m[1]));
    }
    const byIndex = new Map([...links.values()].map((l) => [l.ifindex, l.name]));
    const others: IfaceState[] = [];
    for (const ifindex of orphanIndexes) others.push(await this.readIface(ifindex, byIndex.get(ifindex), links));
    return { wanted, others };
  }

  private async readIface(ifindex: number, name: string | undefined, links: Map<string, Link>): Promise<IfaceState> {
    const qdiscs = name === undefined ? [] : await this.readJson<TcQdisc>('tc', ['-j', 'qdisc', 'show', 'dev', name]);
    const clsact = qdiscs.some((q) => q.kind === 'clsact');
    const dumps: Record<Direction, TcFilter[]> = { egress: [], ingress: [] };
    if (clsact && name !== undefined) {
      for (const d of DIRECTIONS) dumps[d] = await this.readJson<TcFilter>('tc', ['-j', 'filter', 'show', 'dev', name, d]);
    }
    const state: IfaceState = {
      name,
      ifindex,
      clsact,
      ingressQdisc: qdiscs.some((q) => q.kind === 'ingress'),
      filters: { egress: { present: false, correct: false }, ingress: { present: false, correct: false } },
      // u32 on clsact shares its hash tables between directions, so a dump
      // also lists the other direction's keys, but always under the pref of
      // the dumping filter: any other pref is someone else's filter.
      foreignFilters: [...dumps.egress, ...dumps.ingress].some((f) => f.pref !== PREF),
      ifb: { egress: undefined, ingress: undefined },
    };
    for (const d of DIRECTIONS) {
      const ifbName = `${IFB_PREFIX[d]}${ifindex}`;
      const ours = dumps[d].filter((f) => f.pref === PREF);
      state.filters[d] = { present: ours.length > 0, correct: ours.some((f) => redirectsTo(f, ifbName)) };
      const link = links.get(ifbName);
      if (link) state.ifb[d] = await this.readIfb(link);
    }
    return state;
  }

  private async readIfb(link: Link): Promise<IfbState> {
    const root = (await this.readJson<TcQdisc>('tc', ['-j', 'qdisc', 'show', 'dev', link.name])).find((q) => q.root && q.handle !== '0:');
    const rateBytes = root?.kind === 'tbf' && root.handle === '1:' && typeof root.options?.rate === 'number' ? root.options.rate : undefined;
    return { name: link.name, up: link.up, alias: link.alias, root: root ? { kind: root.kind, handle: root.handle ?? '', rateBytes } : undefined };
  }

  private async readLinks(): Promise<Map<string, Link>> {
    const links = await this.readJson<IpLink>('ip', ['-j', 'link', 'show']);
    return new Map(
      links.map((l) => [l.ifname, { ifindex: l.ifindex, name: l.ifname, up: (l.flags ?? []).includes('UP'), alias: l.ifalias || undefined }]),
    );
  }

  private async readJson<T>(command: string, args: string[]): Promise<T[]> {
    const out = await runChecked(this.runner, command, args);
    try {
      const parsed: unknown = JSON.parse(out.trim() || '[]');
      if (Array.isArray(parsed)) return parsed as T[];
    } catch {
      // reported below
    }
    throw new CordonError('internal', `${command} ${args.join(' ')}: output is not a JSON array`);
  }
}

/** The commands that bring one interface to `rateBps`, none if it is there already. Adds before it redirects: a redirect to a missing ifb drops traffic. */
function planThrottle(s: IfaceState, rateBps: number): Command[] {
  const name = s.name!; // apply checked that every plan interface exists
  const rateBytes = Math.floor(rateBps / 8); // the kernel keeps bytes/s
  // Burst: a full GSO packet at least, and 1 ms of traffic at high rates so
  // the timer does not cap TCP. Queue: 100 ms of traffic beyond the burst,
  // enough for TCP to fill the rate without a long standing queue.
  const burst = Math.max(MIN_BURST, Math.ceil(rateBytes / 1000));
  const limit = burst + Math.ceil(rateBytes / 10);
  const tbf = ['tbf', 'rate', `${rateBps}bit`, 'burst', String(burst), 'limit', String(limit)];
  // The links first, then every tc change: two batches (see execute).
  const links: Command[] = [];
  const out: Command[] = [];
  for (const d of DIRECTIONS) {
    const ifbName = `${IFB_PREFIX[d]}${s.ifindex}`;
    const ifb = s.ifb[d];
    if (!ifb) links.push(['ip', 'link', 'add', ifbName, 'type', 'ifb']);
    // The ownership mark goes on before the clsact itself: a crash in between
    // cannot leave a clsact Cordon created unmarked, and so never removed.
    const keptMark = ifb?.alias === ALIAS_CLSACT_OURS ? ALIAS_CLSACT_OURS : ALIAS_CLSACT_THEIRS;
    const alias = d === 'ingress' ? ALIAS_INGRESS : s.clsact ? keptMark : ALIAS_CLSACT_OURS;
    if (!ifb || !ifb.up || ifb.alias !== alias) links.push(['ip', 'link', 'set', 'dev', ifbName, 'alias', alias, 'up']);
    const root = ifb?.root;
    if (root?.kind === 'tbf' && root.handle === '1:') {
      if (root.rateBytes !== rateBytes) out.push(['tc', 'qdisc', 'change', 'dev', ifbName, 'root', 'handle', '1:', ...tbf]);
    } else {
      // replace cannot swap a qdisc of another kind under the same handle.
      if (root) out.push(['tc', 'qdisc', 'del', 'dev', ifbName, 'root']);
      out.push(['tc', 'qdisc', 'replace', 'dev', ifbName, 'root', 'handle', '1:', ...tbf]);
    }
  }
  if (!s.clsact) out.push(['tc', 'qdisc', 'add', 'dev', name, 'clsact']);
  for (const d of DIRECTIONS) {
    const f = s.filters[d];
    if (f.correct) continue;
    // A second add at the same pref would add a second key to the same u32 filter.
    if (f.present) out.push(['tc', 'filter', 'del', 'dev', name, d, 'pref', String(PREF)]);
    out.push(['tc', 'filter', 'add', 'dev', name, d, 'pref', String(PREF), 'protocol', 'all',
      'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', `${IFB_PREFIX[d]}${s.ifindex}`]);
  }
  return [...links, ...out];
}

/** Consecutive commands of the same tool, as [tool, each command's arguments]. */
function batches(commands: Command[]): [string, string[][]][] {
  const out: [string, string[][]][] = [];
  for (const [tool, ...args] of commands) {
    const last = out.at(-1);
    if (last && last[0] === tool) last[1].push(args);
    else out.push([tool, [args]]);
  }
  return out;
}

/**
 * Whether a command can be a line of a batch file: ip and tc split a line on
 * blanks and take a double-quoted word whole (the aliases hold a blank), with
 * no escapes, so a word holding a quote, a backslash or a line break (an
 * interface name may) runs as a command of its own.
 */
const batchable = (args: string[]): boolean => args.every((a) => !/["'\\\n\r]/.test(a));

function batchLine(args: string[]): string {
  return args.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ');
}

/** The commands that remove Cordon's objects of one interface. Redirects go before the ifbs they point to. */
function planRemoval(s: IfaceState): Command[] {
  const out: Command[] = [];
  if (s.name !== undefined && s.clsact) {
    for (const d of DIRECTIONS) if (s.filters[d].present) out.push(['tc', 'filter', 'del', 'dev', s.name, d, 'pref', String(PREF)]);
    if (s.ifb.egress?.alias === ALIAS_CLSACT_OURS && !s.foreignFilters) out.push(['tc', 'qdisc', 'del', 'dev', s.name, 'clsact']);
  }
  for (const d of DIRECTIONS) if (s.ifb[d]) out.push(['ip', 'link', 'del', `${IFB_PREFIX[d]}${s.ifindex}`]);
  return out;
}

function validateRate(rate: number): void {
  if (!Number.isSafeInteger(rate) || rate < MIN_BPS || rate > MAX_BPS) {
    throw new CordonError('invalid', `rate must be an integer from ${MIN_BPS} to ${MAX_BPS} bits/s, got ${rate}`, { field: 'throttle.rateBps' });
  }
}

function redirectsTo(f: TcFilter, dev: string): boolean {
  return (f.options?.actions ?? []).some((a) => a.kind === 'mirred' && a.mirred_action === 'redirect' && a.to_dev === dev);
}

/** The parts of `ip -j link show` and `tc -j … show` (iproute2 ≥ 5.x) that Cordon reads. */
interface IpLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  ifalias?: string;
}
interface TcQdisc {
  kind: string;
  handle?: string;
  root?: boolean;
  options?: { rate?: number };
}
interface TcFilter {
  pref: number;
  kind: string;
  options?: { actions?: { kind: string; mirred_action?: string; to_dev?: string }[] };
}
