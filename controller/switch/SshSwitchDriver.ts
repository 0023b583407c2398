import type { Logger } from '../../proto/runtime/logger.js';
import { CordonError, asCordonError } from '../../proto/runtime/CordonError.js';
import { Mutex } from '../../proto/runtime/Mutex.js';
import { connectSwitch, type DialSwitch } from './connectSwitch.js';
import { ExecSession } from './ExecSession.js';
import { assertAddressable } from './portName.js';
import { profileFor } from './profileFor.js';
import { ShellSession } from './ShellSession.js';
import type { PortState, SwitchDriver, SwitchTarget } from './SwitchDriver.js';
import { describeAdmin, SwitchPortError } from './SwitchPortError.js';
import { summarize, type SwitchSession } from './SwitchSession.js';
import type { VendorProfile } from './VendorProfile.js';

export interface SshSwitchDriverOptions {
  log: Logger;
  /** TCP connect, key exchange and authentication; default 10 s. */
  connectTimeoutMs?: number;
  /** Each command, from sending it to its answer (a Junos commit included); default 30 s. */
  commandTimeoutMs?: number;
  /** How to reach a switch when not by plain TCP (jump host, namespace); see DialSwitch. */
  dial?: DialSwitch;
}

/**
 * The SwitchDriver over SSH (ssh2), for every vendor profile.
 *
 * Per switch, one operation at a time: a second call for the same
 * `switchId` waits until the first has closed its session, because two CLI
 * sessions editing one switch can interleave `configure`/`commit` and because
 * small switches allow very few concurrent SSH sessions. Each operation opens
 * its own connection and closes it: no idle sessions to go stale.
 */
export class SshSwitchDriver implements SwitchDriver {
  private readonly locks = new Map<string, Mutex>();
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;

  constructor(private readonly opts: SshSwitchDriverOptions) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 30_000;
  }

  async setPort(target: SwitchTarget, up: boolean, signal?: AbortSignal): Promise<PortState> {
    const port = assertAddressable(target);
    return this.exclusive(target, signal, async (session, profile) => {
      const log = this.opts.log.child({ component: 'switch', switchId: target.switchId, port });
      const wanted = up ? 'admin-up' : 'admin-down';
      let failure: string | undefined;
      let cause: unknown;
      try {
        for (const step of profile.setSteps(port, up)) {
          log.info({ command: step.command }, 'switch command');
          const outcome = await session.run(step);
          if (outcome.failure) {
            failure = outcome.failure;
            break;
          }
        }
      } catch (err) {
        failure = signal?.aborted ? 'aborted by the caller' : asCordonError(err).message;
        cause = err;
      }
      if (failure !== undefined) {
        await session.recover();
        const { state, note } = await this.readBack(target, session, profile, signal);
        log.warn({ failure, observed: describeAdmin(state) }, 'switch change failed');
        throw new SwitchPortError(`switch ${target.switchId}: setting ${port} ${wanted} failed: ${failure}`, state, note, cause);
      }
      const { state, note } = await this.readBack(target, session, profile, signal);
      if (state.adminUp !== up) {
        throw new SwitchPortError(`switch ${target.switchId}: the commands for ${port} ${wanted} were accepted but did not take`, state, note);
      }
      log.info({ observed: describeAdmin(state) }, 'switch port set');
      return state;
    });
  }

  async readPort(target: SwitchTarget, signal?: AbortSignal): Promise<PortState> {
    const port = assertAddressable(target);
    return this.exclusive(target, signal, async (session, profile) => {
      const { state, note } = await this.readState(session, profile, port);
      if (state.adminUp === undefined) throw new CordonError('transient', `switch ${target.switchId}: cannot read port ${port}: ${note ?? 'no answer'}`);
      return state;
    });
  }

  /** Serialises per switch, connects, opens the vendor's session, always closes it. */
  private exclusive<T>(target: SwitchTarget, signal: AbortSignal | undefined, work: (s: SwitchSession, p: VendorProfile) => Promise<T>): Promise<T> {
    let lock = this.locks.get(target.switchId);
    if (!lock) this.locks.set(target.switchId, (lock = new Mutex()));
    return lock.lock(async () => {
      if (signal?.aborted) throw new CordonError('transient', `switch ${target.switchId}: aborted before connecting`);
      const profile = profileFor(target.vendor);
      const session = await this.open(target, profile, signal);
      // Aborting drops the connection: a pending step then rejects, and the
      // error says the state is unknown rather than waiting for a read-back.
      const abort = () => session.close();
      signal?.addEventListener('abort', abort, { once: true });
      try {
        return await work(session, profile);
      } finally {
        signal?.removeEventListener('abort', abort);
        session.close();
      }
    });
  }

  private async open(target: SwitchTarget, profile: VendorProfile, signal?: AbortSignal): Promise<SwitchSession> {
    const client = await connectSwitch(target, { connectTimeoutMs: this.connectTimeoutMs, signal, ...(this.opts.dial ? { dial: this.opts.dial } : {}) });
    if (profile.transport === 'exec') return new ExecSession(client, this.commandTimeoutMs);
    try {
      return await ShellSession.open(client, profile, this.commandTimeoutMs);
    } catch (err) {
      client.end();
      throw err;
    }
  }

  /**
   * The port's state after a change or a failure, on the same session if it
   * still answers, otherwise on a fresh connection: a failed change must
   * never leave the caller guessing. Never throws; `note` says why a state is
   * unknown.
   */
  private async readBack(target: SwitchTarget, session: SwitchSession, profile: VendorProfile, signal?: AbortSignal): Promise<ReadResult> {
    const port = target.hostPort;
    let lost: string;
    try {
      return await this.readState(session, profile, port);
    } catch (err) {
      lost = asCordonError(err).message; // the session no longer answers
    }
    if (signal?.aborted) return { state: { port, adminUp: undefined }, note: 'aborted by the caller' };
    try {
      const fresh = await this.open(target, profile, signal);
      try {
        return await this.readState(fresh, profile, port);
      } finally {
        fresh.close();
      }
    } catch (err) {
      return { state: { port, adminUp: undefined }, note: `${lost}; reconnecting to read it failed: ${asCordonError(err).message}` };
    }
  }

  /** Runs the read step; rejects only when the session fails, an unreadable answer gives `adminUp` undefined. */
  private async readState(session: SwitchSession, profile: VendorProfile, port: string): Promise<ReadResult> {
    const outcome = await session.run(profile.readStep(port));
    if (outcome.failure) return { state: { port, adminUp: undefined }, note: outcome.failure };
    const adminUp = profile.parseAdminUp(port, outcome.output);
    if (adminUp === undefined) return { state: { port, adminUp }, note: `no admin state for ${port} in: ${summarize(outcome.output)}` };
    return { state: { port, adminUp } };
  }
}

interface ReadResult {
  state: PortState;
  /** Why `state.adminUp` is undefined. */
  note?: string;
}
