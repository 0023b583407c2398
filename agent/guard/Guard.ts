import type { BanEvent, ManagedSecurity } from '../../proto/gen-messages/cordon/v1/agent.js';
import { cidrContains, type Cidr } from '../../proto/runtime/cidr.js';
import { asCordonError } from '../../proto/runtime/CordonError.js';
import { runChecked, type CommandRunner } from '../../proto/runtime/CommandRunner.js';
import type { Log } from '../../proto/runtime/Log.js';
import { banSeconds, nextOffence } from './banTime.js';
import { BanOutbox, holdsBanned, queueBanEvent, type BanChange } from './BanOutbox.js';
import { activeGuardPolicy, type GuardPolicy } from './guardPolicy.js';
import { renderAddBans, renderBanTime, renderGuardTransaction, type GuardPlan } from './guardRuleset.js';
import { emptyGuardState, type Ban, type GuardState, type GuardStateFile } from './GuardStateFile.js';
import { HandshakeCounting } from './HandshakeCounting.js';
import { JournalBans } from './JournalBans.js';
import { listBans, listTable, removeFromSet, resetMeters } from './guardSets.js';

export interface GuardDeps {
  runner: CommandRunner;
  log: Log;
  clock: () => Date;
  publicInterfaces: string[];
  /** The agent's management networks and the controller: never banned, whatever the policy says. */
  managementNetworks: Cidr[];
  file: GuardStateFile;
  /** Hands a ban event to the link; false when it was not taken (no controller): it stays in the outbox, in order, for later. */
  send: (event: BanEvent) => Promise<boolean>;
  /** How often the ban sets are read (default 5 s): the kernel bans at once; a new ban's grown time is set within this. */
  tickMs?: number;
}

/** How often the ban sets are read by default: two small nft listings, about 30 ms of CPU, every 5 s. */
export const DEFAULT_TICK_MS = 5_000;

/** Active bans sent again after each Hello, the newest first; the controller skips the ones it has. */
export const RESEND_LIMIT = 200;
/** A ban gone from the set this close to its end ran out; one gone earlier was removed by someone else and is put back. */
const EXPIRY_SLACK_MS = 3_000;

/**
 * Brute-force protection on the host (managed security): keeps the guard
 * table (guardRuleset.ts) in place for the controller's ManagedSecurity,
 * reads its ban set every tick, gives each new ban its grown time, keeps
 * every ban in the state file so it comes back after a restart or reboot,
 * and removes the bans the customer lifted. Every change of a ban is queued
 * in the state file's outbox and sent in order when a controller takes it
 * (BanOutbox.ts). Every change runs one at a time.
 */
export class Guard {
  private state: GuardState = emptyGuardState();
  private policy: GuardPolicy | undefined;
  private appliedKey: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly outbox: BanOutbox;
  /** Events queued since the state was last saved. */
  private dirty = false;
  /** Bans whose 'banned' event a controller acknowledged (an older one: that reached its stream or a poll's queue) since this process started. */
  private readonly delivered = new Set<string>();
  private readonly journal: JournalBans;
  private readonly accounting: HandshakeCounting;
  /** Acknowledged seqs not yet taken out of the outbox, and the turn that will. */
  private readonly acks: bigint[] = [];
  private ackTurn: Promise<void> | undefined;

  constructor(private readonly deps: GuardDeps) {
    this.outbox = new BanOutbox(deps.send, deps.log);
    this.journal = new JournalBans(deps.runner, deps.log);
    this.accounting = new HandshakeCounting(deps.runner, deps.log);
  }

  /**
   * Puts back the saved bans (before the controller answers: a reboot must
   * not open the door), and queues the end of each that ran out while the
   * agent was not running. Returns how many are back.
   */
  restore(): Promise<number> {
    return this.serial(async () => {
      this.state = this.deps.file.load();
      this.outbox.pace.tell(this.state.policy?.maxEventsPerMinute);
      this.outbox.expectAcks(this.state.controllerAcks);
      const now = this.now();
      for (const ban of this.state.bans.filter((b) => b.expiresAtMs <= now)) this.emit('expired', ban, ban.expiresAtMs);
      this.state.bans = this.state.bans.filter((b) => b.expiresAtMs > now);
      await this.converge(this.state.policy);
      await this.settle();
      return this.state.bans.length;
    });
  }

  /**
   * Converges to the controller's policy: the table, then the customer's
   * lifts. The same policy again changes nothing. Afterwards the active bans
   * no controller has heard of from this process are queued again (the
   * policy comes after each accepted Hello; the controller skips bans it
   * has), unless one waits in the outbox already, and the outbox is sent
   * again from its oldest event (a policy comes on every new stream; on a
   * lift's, the controller skips the repeats).
   */
  setPolicy(policy: ManagedSecurity | undefined): Promise<void> {
    return this.serial(async () => {
      this.outbox.pace.tell(policy?.maxEventsPerMinute);
      const acks = policy?.acknowledgesBanEvents === true;
      if (acks !== this.state.controllerAcks) {
        this.state.controllerAcks = acks;
        this.dirty = true;
      }
      this.outbox.expectAcks(acks);
      this.outbox.restart();
      await this.converge(policy);
      const unsent = this.state.bans.filter((b) => !this.delivered.has(b.id) && !holdsBanned(this.state.pending, b.id));
      const newest = unsent.sort((a, b) => b.bannedAtMs - a.bannedAtMs).slice(0, RESEND_LIMIT);
      for (const ban of newest) this.emit('banned', ban, ban.bannedAtMs);
      await this.settle();
    });
  }

  /** Reads the ban set once now and sends what waits (the timer does it every tick). */
  tick(): Promise<void> {
    return this.serial(async () => {
      await this.tickNow();
      await this.settle();
    });
  }

  /**
   * The controller settled these ban events (BanEventAck): they leave the
   * outbox. Acks arriving together are taken in one turn, with one save;
   * a save lost to a crash only sends them again, and the controller skips
   * what it has.
   */
  acknowledge(seqs: readonly bigint[]): Promise<void> {
    this.acks.push(...seqs);
    if (this.ackTurn) return this.ackTurn;
    this.ackTurn = this.serial(async () => {
      this.ackTurn = undefined;
      const seqs = this.acks.splice(0);
      const n = this.outbox.acknowledge(this.state.pending, seqs, (e) => this.done(e));
      if (n > 0) this.dirty = true;
      await this.settle();
    });
    return this.ackTurn;
  }

  /** Ban events waiting for a controller, oldest first (for status and tests). */
  pending(): { change: BanChange; banId: string; changedAtMs: number }[] {
    return this.state.pending.events.map((e) => ({ change: e.change, banId: e.ban.id, changedAtMs: e.changedAtMs }));
  }

  /** The bans held now (for status and tests). */
  bans(): Ban[] {
    return this.state.bans.map((b) => ({ ...b }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.queue;
  }

  /**
   * After each change: saves what was queued, hands the outbox to the link,
   * and keeps the timer running while there is a policy to guard with or an
   * event to send (a policy turned off still sends its removals later).
   */
  private async settle(): Promise<void> {
    if (this.dirty) this.save();
    let done = 0;
    await this.outbox.flush(this.state.pending, () => this.now(), (e) => {
      this.done(e);
      done++;
    });
    if (done > 0) this.save();
    const wanted = !this.stopped && (this.policy !== undefined || this.state.pending.events.length > 0);
    if (wanted && !this.timer) {
      this.timer = setInterval(() => void this.tick().catch((err: unknown) => this.deps.log.error({ err: asCordonError(err).message }, 'guard tick failed')), this.deps.tickMs ?? DEFAULT_TICK_MS);
      this.timer.unref();
    } else if (!wanted && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** A ban event the controller has (acknowledged, or, from an older controller, handed to its stream). */
  private done(e: { change: BanChange; ban: Ban }): void {
    if (e.change === 'banned') this.delivered.add(e.ban.id);
    else this.delivered.delete(e.ban.id);
  }

  private save(): void {
    this.deps.file.save(this.state);
    this.dirty = false;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private now(): number {
    return this.deps.clock().getTime();
  }

  private never(): Cidr[] {
    return [...this.deps.managementNetworks, ...(this.policy?.allowed ?? [])];
  }

  private isNever(address: string): boolean {
    return this.never().some((c) => c.family === (address.includes(':') ? 6 : 4) && cidrContains(c, address));
  }

  private plan(p: GuardPolicy): GuardPlan {
    const now = this.now();
    return {
      publicInterfaces: this.deps.publicInterfaces,
      never: this.never(),
      services: p.services,
      baseBanSeconds: p.baseBanSeconds,
      maxBans: p.maxBans,
      countHandshakes: this.accounting.handshakes,
      bans: this.state.bans.map((b) => ({ address: b.address, family: b.family, seconds: (b.expiresAtMs - now) / 1000 })),
    };
  }

  private async converge(policy: ManagedSecurity | undefined): Promise<void> {
    const dropped: string[] = [];
    const active = activeGuardPolicy(policy, dropped);
    if (dropped.length > 0) this.deps.log.warn({ dropped }, 'parts of the managed-security policy left out');
    const key = JSON.stringify(active ? { ...active, allowed: active.allowed.map((c) => c.text) } : null);
    if (key !== this.appliedKey) {
      // Bans the kernel placed since the last read are booked before the table is made again.
      if (this.policy) await this.tickNow();
      this.policy = active;
      if (!active) {
        for (const ban of this.state.bans) this.emit('removed', ban);
        this.state.bans = [];
      } else {
        // A source the new policy allows is let go now.
        const allowedNow = this.state.bans.filter((b) => this.isNever(b.address));
        this.state.bans = this.state.bans.filter((b) => !this.isNever(b.address));
        for (const ban of allowedNow) this.emit('removed', ban);
      }
      await runChecked(this.deps.runner, 'nft', ['-f', '-'], { input: renderGuardTransaction(active && this.plan(active)) });
      // After the table: its conntrack expressions load conntrack, whose accounting switch exists only then.
      if (active) await this.keepHandshakeCounting(active);
      this.appliedKey = key;
      if (active) {
        // Failed logins count from the moment the guard is on, not from the journal's beginning.
        if (active.authFailures > 0) this.journal.startAt(this.now());
        this.deps.log.info({ services: active.services.map((s) => s.name), bans: this.state.bans.length }, 'guarding against brute force');
      }
    }
    this.state.policy = policy?.enabled ? policy : undefined;
    const lifted = new Set(policy?.liftedBanIds ?? []);
    const lifting = this.state.bans.filter((b) => lifted.has(b.id));
    if (lifting.length > 0 && active) {
      // Meters first: a banned source's packets are refused before any meter, so an emptied meter stays
      // empty until the ban goes. The other way round, a connection in between found the meter still over
      // its rate and was banned again at once (seen in CI: the lifted source refused right after the lift).
      await resetMeters(this.deps.runner, lifting);
      await removeFromSet(this.deps.runner, lifting);
      this.state.bans = this.state.bans.filter((b) => !lifted.has(b.id));
      for (const ban of lifting) {
        // The customer vouched for this source: its next ban starts again at the base time.
        this.state.offences.delete(ban.address);
        this.deps.log.info({ ban: ban.id, address: ban.address }, 'ban lifted (the customer, on their page)');
        this.emit('removed', ban);
      }
    }
    this.save();
  }

  /** Keeps conntrack's accounting on for the handshake meters; where it cannot be, makes the table count SYNs. */
  private async keepHandshakeCounting(policy: GuardPolicy): Promise<void> {
    if (!(await this.accounting.keep())) await runChecked(this.deps.runner, 'nft', ['-f', '-'], { input: renderGuardTransaction(this.plan(policy)) });
  }

  private async tickNow(): Promise<void> {
    const policy = this.policy;
    if (!policy) return;
    if (this.accounting.watched) await this.keepHandshakeCounting(policy);
    if (policy.authFailures > 0) {
      await this.journal.read(policy, this.now(), (a) => this.isNever(a), new Set(this.state.bans.map((b) => b.address)));
    }
    const listing = await listBans(this.deps.runner);
    if (!listing) {
      this.deps.log.warn('the guard table is gone (removed on the host?): putting it back with every ban');
      await runChecked(this.deps.runner, 'nft', ['-f', '-'], { input: renderGuardTransaction(this.plan(policy)) });
      return;
    }
    const now = this.now();
    const held = new Map(this.state.bans.map((b) => [b.address, b]));
    let changed = false;
    const fresh: Ban[] = [];
    const letGo: Ban[] = [];
    // New bans are named by the services whose meters hold their source: read those only when there is one.
    if ([...listing.bans.keys()].some((a) => !held.has(a))) listing.meters = (await listTable(this.deps.runner))?.meters ?? new Map();
    for (const [address, { family }] of listing.bans) {
      if (held.has(address)) continue;
      const offence = nextOffence(this.state.offences.get(address), now, policy.forgetAfterSeconds);
      const seconds = banSeconds(offence, policy.baseBanSeconds, policy.maxBanSeconds);
      const services = [...new Set([...(listing.meters.get(address) ?? []), ...this.journal.takeServices(address)])].sort();
      const ban: Ban = { id: `${now}-${address}`, address, family, services, bannedAtMs: now, expiresAtMs: now + seconds * 1000, offence, seconds };
      // The kernel checks never-ban sources before any meter; one here came from a policy change between two reads.
      if (this.isNever(address)) letGo.push(ban);
      else fresh.push(ban);
    }
    if (letGo.length > 0) await removeFromSet(this.deps.runner, letGo);
    const longer = fresh.filter((b) => b.seconds !== policy.baseBanSeconds).map((b) => ({ address: b.address, family: b.family, seconds: b.seconds }));
    if (longer.length > 0) {
      const all = await this.deps.runner.run('nft', ['-f', '-'], { input: longer.map(renderBanTime).join('') });
      // One element that ran out in between fails the whole transaction: then each on its own, adding back any that went.
      if (all.code !== 0) for (const b of longer) if ((await this.deps.runner.run('nft', ['-f', '-'], { input: renderBanTime(b) })).code !== 0) await this.deps.runner.run('nft', ['-f', '-'], { input: renderAddBans([b]) });
    }
    for (const ban of fresh) {
      this.state.bans.push(ban);
      this.state.offences.set(ban.address, { count: ban.offence, lastEndMs: ban.expiresAtMs });
      this.deps.log.warn({ address: ban.address, services: ban.services, offence: ban.offence, seconds: ban.seconds }, 'brute force: source banned');
      changed = true;
    }
    const gone = this.state.bans.filter((b) => !listing.bans.has(b.address) && !fresh.includes(b));
    const expired = gone.filter((b) => b.expiresAtMs <= now + EXPIRY_SLACK_MS);
    const removedElsewhere = gone.filter((b) => b.expiresAtMs > now + EXPIRY_SLACK_MS);
    if (removedElsewhere.length > 0) {
      this.deps.log.warn({ addresses: removedElsewhere.map((b) => b.address) }, 'bans removed on the host before their time: put back (a ban is lifted on the customer page)');
      await runChecked(this.deps.runner, 'nft', ['-f', '-'], { input: renderAddBans(removedElsewhere.map((b) => ({ address: b.address, family: b.family, seconds: (b.expiresAtMs - now) / 1000 }))) });
    }
    if (expired.length > 0) {
      const ids = new Set(expired.map((b) => b.id));
      this.state.bans = this.state.bans.filter((b) => !ids.has(b.id));
      changed = true;
    }
    for (const ban of fresh) this.emit('banned', ban, ban.bannedAtMs);
    for (const ban of expired) this.emit('expired', ban, Math.min(now, ban.expiresAtMs));
    if (changed) this.save();
  }

  /** Queues a change of a ban, seen at `changedAtMs` (now by default); the operation's settle() sends it. */
  private emit(change: BanChange, ban: Ban, changedAtMs = this.now()): void {
    queueBanEvent(this.state.pending, { change, ban: { ...ban, services: [...ban.services] }, changedAtMs });
    this.dirty = true;
  }
}
