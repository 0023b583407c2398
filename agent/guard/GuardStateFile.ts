import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ManagedSecurity } from '../../proto/gen-messages/cordon/v1/agent.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { isIP } from 'node:net';
import type { Offences } from './banTime.js';
import type { BanChange, PendingBanEvent, PendingBans } from './BanOutbox.js';

/** One ban the guard holds. */
export interface Ban {
  /** `<bannedAtMs>-<address>`: stable for the ban's life, the id the customer's page lifts. */
  id: string;
  address: string;
  family: 4 | 6;
  services: string[];
  bannedAtMs: number;
  expiresAtMs: number;
  offence: number;
  seconds: number;
}

/** What the guard keeps across agent restarts and reboots. */
export interface GuardState {
  /** The last policy the controller sent, so bans come back at start before the controller answers. */
  policy: ManagedSecurity | undefined;
  bans: Ban[];
  /** Per source, its bans so far (for the ban time's growth). */
  offences: Map<string, Offences>;
  /** Ban events no controller has taken yet (BanOutbox.ts): they are sent after a restart too. */
  pending: PendingBans;
  /** Whether the last controller said it acknowledges ban events: until one speaks again, the agent expects the same. */
  controllerAcks: boolean;
}

/** What a first start, or no file, holds. */
export const emptyGuardState = (): GuardState => ({ policy: undefined, bans: [], offences: new Map(), pending: { events: [], dropped: 0, nextSeq: 1 }, controllerAcks: false });

/** Sources whose offences are remembered; past it the ones whose last ban ended longest ago are forgotten first. */
export const MAX_REMEMBERED = 20_000;

const FILE = 'guard.json';

/**
 * The guard's state on disk (`<stateDir>/guard.json`), written like the
 * desired state: temp file, fsync, rename, fsync of the folder, so a power
 * cut leaves the old or the new file, never half of one.
 */
export class GuardStateFile {
  readonly path: string;

  constructor(readonly dir: string) {
    this.path = join(dir, FILE);
  }

  /** An empty state when nothing was saved; a corrupt file is an `invalid` error naming it, never read as "no bans". */
  load(): GuardState {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyGuardState();
      throw new CordonError('transient', `cannot read ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const raw = JSON.parse(text) as { version?: unknown; policy?: unknown; bans?: unknown; offences?: unknown; pending?: { events?: unknown; dropped?: unknown; nextSeq?: unknown }; controllerAcks?: unknown };
      if (raw.version !== 1) throw new Error(`unknown guard state version ${JSON.stringify(raw.version)}`);
      const bans = (Array.isArray(raw.bans) ? raw.bans : []).map((b, i) => readBan(b, `bans[${i}]`));
      const offences = new Map<string, Offences>();
      for (const [address, o] of Object.entries((raw.offences ?? {}) as Record<string, { count?: unknown; lastEndMs?: unknown }>)) {
        if (isIP(address) && Number.isInteger(o?.count) && Number.isFinite(o?.lastEndMs)) offences.set(address, { count: o.count as number, lastEndMs: o.lastEndMs as number });
      }
      // A file from before the outbox has none: nothing pending.
      const events = raw.pending?.events === undefined ? [] : Array.isArray(raw.pending.events) ? raw.pending.events.map(readPending) : notAList();
      const dropped = Number.isInteger(raw.pending?.dropped) ? (raw.pending!.dropped as number) : 0;
      // Events of a file from before the acknowledgements have no number: they get the next ones, in order.
      let nextSeq = Math.max(1, Number.isSafeInteger(raw.pending?.nextSeq) ? (raw.pending!.nextSeq as number) : 1, ...events.map((e) => (e.seq ?? 0) + 1));
      const numbered = events.map((e) => ({ ...e, seq: e.seq ?? nextSeq++ }));
      return { policy: raw.policy ? ManagedSecurity.fromJSON(raw.policy) : undefined, bans, offences, pending: { events: numbered, dropped, nextSeq }, controllerAcks: raw.controllerAcks === true };
    } catch (err) {
      throw new CordonError('invalid', `the guard state ${this.path} is corrupt: ${(err as Error).message}`, { field: 'stateDir', cause: err });
    }
  }

  save(state: GuardState): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const remembered = [...state.offences].sort((a, b) => b[1].lastEndMs - a[1].lastEndMs).slice(0, MAX_REMEMBERED);
    const body = JSON.stringify({
      version: 1,
      policy: state.policy ? ManagedSecurity.toJSON(state.policy) : null,
      bans: state.bans,
      offences: Object.fromEntries(remembered),
      pending: state.pending,
      controllerAcks: state.controllerAcks,
    });
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, body + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dirFd = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

const CHANGES: readonly string[] = ['banned', 'expired', 'removed'] satisfies BanChange[];

function notAList(): never {
  throw new Error('pending.events is not a list');
}

function readPending(v: unknown, i: number): Omit<PendingBanEvent, 'seq'> & { seq?: number } {
  const e = v as Partial<Record<keyof PendingBanEvent, unknown>>;
  if (typeof e?.change !== 'string' || !CHANGES.includes(e.change) || typeof e.changedAtMs !== 'number' || !Number.isFinite(e.changedAtMs)) throw new Error(`pending.events[${i}] is not a ban event`);
  if (e.seq !== undefined && !(Number.isSafeInteger(e.seq) && (e.seq as number) > 0)) throw new Error(`pending.events[${i}].seq is not a positive integer`);
  return { change: e.change as BanChange, changedAtMs: e.changedAtMs, ban: readBan(e.ban, `pending.events[${i}].ban`), ...(e.seq !== undefined ? { seq: e.seq as number } : {}) };
}

function readBan(v: unknown, where: string): Ban {
  const b = (v ?? {}) as Partial<Ban>;
  const family = b.address ? isIP(b.address) : 0;
  const numbers = [b.bannedAtMs, b.expiresAtMs, b.offence, b.seconds];
  if (typeof b.id !== 'string' || (family !== 4 && family !== 6) || !numbers.every((n) => typeof n === 'number' && Number.isFinite(n))) {
    throw new Error(`${where} is not a ban`);
  }
  return { id: b.id, address: b.address!, family, services: Array.isArray(b.services) ? b.services.map(String) : [], bannedAtMs: b.bannedAtMs!, expiresAtMs: b.expiresAtMs!, offence: b.offence!, seconds: b.seconds! };
}
