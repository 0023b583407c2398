import { isIP } from 'node:net';
import type { BanEvent } from '../../proto/gen/cordon/v1/agent.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { AuditEntry, AuditLog } from '../store/AuditLog.js';

/** A ban as the controller knows it, from the audit log. */
export interface BanRecord {
  id: string;
  address: string;
  services: string[];
  bannedAt: Date;
  expiresAt: Date;
  offence: number;
  seconds: number;
  /**
   * How it ended, if it did before its time: lifted on the customer page
   * (with who), or removed on the host. `at` is when the agent says it saw
   * the end (an end kept while it was disconnected arrives late), else when
   * the controller recorded it.
   */
  ended?: { how: 'lifted' | 'expired' | 'removed'; at: Date; actor: string };
}

/** Audit entries read per host to know its bans: the newest ones; bans older than that are shown no more. */
export const LEDGER_WINDOW = 2_000;
const BAN_ID = /^\d{1,16}-[0-9a-fA-F:.]{2,45}$/;
const SERVICE = /^[a-z][a-z0-9]{0,15}$/;
/** How far in the future an agent's changed_at may lie (clock skew), as for an observation's window. */
export const MAX_CHANGED_AT_SKEW_MS = 5 * 60_000;

/**
 * What became of an agent's ban event: recorded now, known already (a
 * repeat, an end of a ban already ended or never heard of), or not taken
 * for now, the host's minute budget being spent (the agent sends it again).
 */
export type BanRecordOutcome = 'recorded' | 'known' | 'over_budget';

/** The actor the agent's own records carry: what a host says, never a person. */
export const agentActor = (hostId: string) => `agent:${hostId}`;

/**
 * The hosts' brute-force bans, kept in the audit log (hash-chained,
 * append-only, shared by every replica): `guard.banned`, `guard.expired`
 * and `guard.removed` entries are what the host's agent said (actor
 * `agent:<host>`); `guard.lift` entries are the customer's lifts on their
 * page (actor `customer:<id>`), the only lifts the controller honours. The
 * agent cannot make a lift: whatever it sends is recorded as the agent's.
 */
export class BanLedger {
  private readonly recent = new Map<string, { minute: number; count: number; dropped: number }>();

  constructor(
    private readonly audit: () => AuditLog,
    private readonly log: Logger,
    private readonly maxEventsPerMinute: number,
  ) {}

  /** The host's bans, oldest first, as its last LEDGER_WINDOW guard entries tell. */
  async bans(hostId: string): Promise<BanRecord[]> {
    const entries = await this.audit().search({ subject: hostId, actionPrefix: 'guard.', limit: LEDGER_WINDOW });
    return foldBans(entries.reverse());
  }

  /** The bans still in force at `now` (placed, not ended, not run out). */
  async active(hostId: string, now: Date): Promise<BanRecord[]> {
    return (await this.bans(hostId)).filter((b) => !b.ended && b.expiresAt.getTime() > now.getTime());
  }

  /** The customer's lifts of bans that would still be in force: what the agent must remove. */
  async liftedIds(hostId: string, now: Date): Promise<string[]> {
    return (await this.bans(hostId)).filter((b) => b.ended?.how === 'lifted' && b.expiresAt.getTime() > now.getTime()).map((b) => b.id);
  }

  /**
   * Records what an agent says about its own host's ban. Checked first
   * (well-formed id and address, known change, a changed_at neither before
   * the ban nor ahead of `now` by more than the skew); a ban already
   * recorded, or an end of one already ended or unknown, is skipped; past
   * maxEventsPerMinute per host the rest is not taken and counted in the
   * log. The entry's time is `now`, the receipt; the agent's changed_at goes
   * in its detail, as the agent's word.
   */
  async record(hostId: string, e: BanEvent, now: Date): Promise<BanRecordOutcome> {
    checkEvent(e, now);
    if (!this.admit(hostId, now)) return 'over_budget';
    const known = (await this.bans(hostId)).find((b) => b.id === e.banId);
    if (e.change === 'banned' ? known !== undefined : !known || known.ended !== undefined) return 'known';
    if (known && e.changedAt && e.changedAt.getTime() < known.bannedAt.getTime()) throw invalidEvent('changed_at', 'is before the ban began');
    const changedAt = e.changedAt ? { changedAt: e.changedAt.toISOString() } : {};
    const detail =
      e.change === 'banned'
        ? { banId: e.banId, address: e.address, services: e.services, bannedAt: e.bannedAt!.toISOString(), expiresAt: e.expiresAt!.toISOString(), offence: e.offence, seconds: e.seconds, ...changedAt }
        : { banId: e.banId, address: e.address, ...changedAt };
    await this.audit().append({ at: now, actor: agentActor(hostId), action: `guard.${e.change}`, subject: hostId, detail });
    return 'recorded';
  }

  /**
   * The customer lifts a ban of their host on their page: recorded with who
   * and from where. `not_found` when the host holds no such ban in force.
   */
  async lift(hostId: string, banId: string, by: { actor: string; sourceAddress?: string | undefined; userAgent?: string | undefined }, now: Date): Promise<BanRecord> {
    const ban = (await this.active(hostId, now)).find((b) => b.id === banId);
    if (!ban) throw new CordonError('not_found', `no ban ${banId} in force on ${hostId}`, { field: 'ban' });
    await this.audit().append({ at: now, actor: by.actor, action: 'guard.lift', subject: hostId, detail: { banId, address: ban.address, sourceAddress: by.sourceAddress ?? null, userAgent: by.userAgent?.slice(0, 200) ?? null } });
    return ban;
  }

  private admit(hostId: string, now: Date): boolean {
    const minute = Math.floor(now.getTime() / 60_000);
    let r = this.recent.get(hostId);
    if (!r || r.minute !== minute) {
      if (r?.dropped) this.log.warn({ host: hostId, dropped: r.dropped }, 'ban events over managedSecurity.maxEventsPerMinute not taken (the agent sends them again)');
      r = { minute, count: 0, dropped: 0 };
      this.recent.set(hostId, r);
    }
    if (r.count >= this.maxEventsPerMinute) {
      r.dropped++;
      return false;
    }
    r.count++;
    return true;
  }
}

function invalidEvent(field: string, what: string): CordonError {
  return new CordonError('invalid', `ban event: ${field} ${what}`, { field });
}

function checkEvent(e: BanEvent, now: Date): void {
  if (!BAN_ID.test(e.banId)) throw invalidEvent('ban_id', 'is not <ms>-<address>');
  if (!isIP(e.address) || !e.banId.endsWith(`-${e.address}`)) throw invalidEvent('address', 'is not an IP address, or not the ban id\'s');
  if (!['banned', 'expired', 'removed'].includes(e.change)) throw invalidEvent('change', `must be banned, expired or removed, got ${JSON.stringify(e.change.slice(0, 20))}`);
  if (e.changedAt) {
    if (!Number.isFinite(e.changedAt.getTime())) throw invalidEvent('changed_at', 'is not a time');
    if (e.changedAt.getTime() > now.getTime() + MAX_CHANGED_AT_SKEW_MS) throw invalidEvent('changed_at', 'lies in the future');
    if (e.bannedAt && e.changedAt.getTime() < e.bannedAt.getTime()) throw invalidEvent('changed_at', 'is before banned_at');
  }
  if (e.change !== 'banned') return;
  if (!e.bannedAt || !e.expiresAt || e.expiresAt.getTime() <= e.bannedAt.getTime()) throw invalidEvent('expires_at', 'must be after banned_at');
  if (e.expiresAt.getTime() - e.bannedAt.getTime() > 366 * 86_400_000) throw invalidEvent('expires_at', 'is more than a year after banned_at');
  if (e.services.length > 16 || !e.services.every((s) => SERVICE.test(s))) throw invalidEvent('services', 'must be at most 16 service names');
}

/** Folds guard entries, oldest first, into bans. Pure. */
export function foldBans(entries: readonly AuditEntry[]): BanRecord[] {
  const bans = new Map<string, BanRecord>();
  for (const e of entries) {
    const d = (e.detail ?? {}) as Record<string, unknown>;
    const id = typeof d.banId === 'string' ? d.banId : undefined;
    if (!id) continue;
    if (e.action === 'guard.banned') {
      if (bans.has(id)) continue;
      bans.set(id, {
        id,
        address: String(d.address),
        services: Array.isArray(d.services) ? d.services.map(String) : [],
        bannedAt: new Date(String(d.bannedAt)),
        expiresAt: new Date(String(d.expiresAt)),
        offence: Number(d.offence) || 1,
        seconds: Number(d.seconds) || 0,
      });
      continue;
    }
    const ban = bans.get(id);
    if (!ban || ban.ended) continue;
    const how = e.action === 'guard.lift' ? 'lifted' : e.action === 'guard.expired' ? 'expired' : e.action === 'guard.removed' ? 'removed' : undefined;
    if (how) ban.ended = { how, at: (how !== 'lifted' && agentChangedAt(d, ban, e.at)) || e.at, actor: e.actor };
  }
  return [...bans.values()];
}

/** The agent's changed_at of an end it sent, when it is one record() would take: not before the ban, not past the receipt by more than the skew. */
function agentChangedAt(d: Record<string, unknown>, ban: BanRecord, receivedAt: Date): Date | undefined {
  if (typeof d.changedAt !== 'string') return undefined;
  const at = new Date(d.changedAt);
  const ms = at.getTime();
  return Number.isFinite(ms) && ms >= ban.bannedAt.getTime() && ms <= receivedAt.getTime() + MAX_CHANGED_AT_SKEW_MS ? at : undefined;
}
