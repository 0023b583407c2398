import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ManagedSecurity } from '../../proto/gen-messages/cordon/v1/agent.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { isIP } from 'node:net';
import type { Offences } from './banTime.js';

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
}

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
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { policy: undefined, bans: [], offences: new Map() };
      throw new CordonError('transient', `cannot read ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const raw = JSON.parse(text) as { version?: unknown; policy?: unknown; bans?: unknown; offences?: unknown };
      if (raw.version !== 1) throw new Error(`unknown guard state version ${JSON.stringify(raw.version)}`);
      const bans = (Array.isArray(raw.bans) ? raw.bans : []).map(readBan);
      const offences = new Map<string, Offences>();
      for (const [address, o] of Object.entries((raw.offences ?? {}) as Record<string, { count?: unknown; lastEndMs?: unknown }>)) {
        if (isIP(address) && Number.isInteger(o?.count) && Number.isFinite(o?.lastEndMs)) offences.set(address, { count: o.count as number, lastEndMs: o.lastEndMs as number });
      }
      return { policy: raw.policy ? ManagedSecurity.fromJSON(raw.policy) : undefined, bans, offences };
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

function readBan(v: unknown, i: number): Ban {
  const b = v as Partial<Ban>;
  const family = b.address ? isIP(b.address) : 0;
  const numbers = [b.bannedAtMs, b.expiresAtMs, b.offence, b.seconds];
  if (typeof b.id !== 'string' || (family !== 4 && family !== 6) || !numbers.every((n) => typeof n === 'number' && Number.isFinite(n))) {
    throw new Error(`bans[${i}] is not a ban`);
  }
  return { id: b.id, address: b.address!, family, services: Array.isArray(b.services) ? b.services.map(String) : [], bannedAtMs: b.bannedAtMs!, expiresAtMs: b.expiresAtMs!, offence: b.offence!, seconds: b.seconds! };
}
