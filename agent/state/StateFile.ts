import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { desiredToJson, parseDesired } from '../enforce/parseDesired.js';
import type { Desired } from '../enforce/plan.js';

/** What the agent keeps across restarts and reboots. */
export interface SavedState {
  desired: Desired;
  /** Public links Cordon set down, so a release raises exactly those. */
  linksDownedByCordon: string[];
  /**
   * Set by `cordon-agent release-all`: the operator removed enforcement by
   * hand, and it stays removed until the controller sends a newer generation.
   */
  releasedLocally: boolean;
}

const FILE = 'state.json';

/**
 * The desired state on disk, written atomically (temp file, fsync, rename,
 * fsync of the folder) so a crash or power cut leaves either the old or the
 * new state, never half of one.
 */
export class StateFile {
  readonly path: string;
  /** The file's identity when this process last read or wrote it. */
  private known: string | undefined;
  /** What this process last wrote (without its time), so an identical save is skipped. */
  private lastWritten: string | undefined;

  constructor(readonly dir: string) {
    this.path = join(dir, FILE);
  }

  /**
   * Whether another process (a one-shot `cordon-agent apply` or `release-all`
   * run by an operator) rewrote the file since this process last touched it.
   */
  changedElsewhere(): boolean {
    return this.stamp() !== this.known;
  }

  private stamp(): string | undefined {
    try {
      const st = statSync(this.path);
      return `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      return undefined;
    }
  }

  /** Undefined when nothing was ever saved; a corrupt file is an `invalid` error, never silently ignored. */
  load(): SavedState | undefined {
    this.known = this.stamp();
    this.lastWritten = undefined;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CordonError('transient', `cannot read ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const raw = JSON.parse(text) as { version?: number; desired?: unknown; linksDownedByCordon?: unknown; releasedLocally?: unknown };
      if (raw.version !== 1) throw new Error(`unknown state file version ${JSON.stringify(raw.version)}`);
      const links = Array.isArray(raw.linksDownedByCordon) ? raw.linksDownedByCordon.map(String) : [];
      return { desired: parseDesired(raw.desired), linksDownedByCordon: links, releasedLocally: raw.releasedLocally === true };
    } catch (err) {
      throw new CordonError('invalid', `the saved state ${this.path} is corrupt: ${(err as Error).message}`, { field: 'stateDir', cause: err });
    }
  }

  /**
   * Writes the state unless this process last wrote the same and nobody has
   * changed the file since: an apply saves before and after the deed, and
   * each write is two fsyncs on the way to the first dropped packet.
   */
  save(state: SavedState): void {
    const content = { desired: desiredToJson(state.desired), linksDownedByCordon: state.linksDownedByCordon, releasedLocally: state.releasedLocally };
    const same = JSON.stringify(content);
    if (same === this.lastWritten && !this.changedElsewhere()) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const body = JSON.stringify({ version: 1, savedAt: new Date().toISOString(), ...content }, null, 2);
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, body + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    this.known = this.stamp();
    this.lastWritten = same;
    const dirFd = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}
