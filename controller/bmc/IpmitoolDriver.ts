import { access, constants } from 'node:fs/promises';
import type { CommandRunner } from '../../proto/runtime/CommandRunner.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { BmcCheck, BmcDriver, BmcTarget } from './BmcDriver.js';
import { BmcPacer, systemPacerClock, type PacerClock } from './BmcPacer.js';
import { bmcKey, buildIpmitoolArgs, checkBmcTarget, type IpmitoolCommand } from './buildIpmitoolArgs.js';
import { classifyIpmitoolFailure, type IpmitoolFailure } from './classifyIpmitoolFailure.js';
import { resolveIpmitoolConfig, type IpmitoolConfig } from './IpmitoolConfig.js';
import { parseIpmitoolFields } from './parseIpmitoolFields.js';

export interface IpmitoolDriverDeps {
  /** Every ipmitool run goes through it, with the hard timeout. */
  runner: CommandRunner;
  /** Pacing clock; the system clock when absent. */
  clock?: PacerClock;
  /** Gets one debug line per ipmitool run (command, exit code, time), never argv or output. */
  log?: Logger;
  /** Whether the controller can read a password file; `fs.access(R_OK)` when absent. */
  canRead?: (path: string) => Promise<boolean>;
}

/** The mc info fields worth keeping: enough to recognise the BMC and its firmware. */
const MC_FIELDS = ['Firmware Revision', 'IPMI Version', 'Manufacturer ID', 'Manufacturer Name', 'Product ID', 'Product Name', 'Device Available'];
const CHASSIS_FIELDS = ['System Power'];

/** ExecRunner reports a run ended by a signal (our hard-timeout SIGKILL) as 128; ipmitool itself exits 0, 1 or 255. */
const KILLED = 128;

/** Failures a second run may cure: a lost UDP packet, a BMC busy for a moment, a DNS hiccup. */
const RETRYABLE = new Set<IpmitoolFailure['kind']>(['timeout', 'unreachable']);

type Outcome = { ok: true; stdout: string; runs: number } | { ok: false; failure: IpmitoolFailure; runs: number };

/**
 * A BmcDriver over Debian's `ipmitool -I lanplus` (IPMI 2.0 / RMCP+).
 *
 * A check runs `mc info` (Get Device ID: the cheapest authenticated
 * command); if the BMC answered but not that command, `chassis status` as a
 * second opinion; then, when the target needs SOL, `sol info 1`. A silent or
 * unresolvable BMC is tried `attempts` times back to back (ipmitool's own
 * `-R` already spaces the packets); an auth failure is never retried, since
 * BMCs lock accounts after a few bad logins. Checks are paced per BMC and
 * bounded overall by a BmcPacer. Each ipmitool run is a fresh session, killed
 * after `hardTimeoutMs` should ipmitool itself hang.
 */
export class IpmitoolDriver implements BmcDriver {
  readonly config: IpmitoolConfig;
  private readonly pacer: BmcPacer;
  private readonly clock: PacerClock;
  private readonly canRead: (path: string) => Promise<boolean>;

  /** Throws CordonError `invalid` for a bad config value. */
  constructor(
    config: Partial<IpmitoolConfig>,
    private readonly deps: IpmitoolDriverDeps,
  ) {
    this.config = resolveIpmitoolConfig(config);
    this.clock = deps.clock ?? systemPacerClock;
    this.pacer = new BmcPacer({ concurrency: this.config.concurrency, minIntervalMs: this.config.minIntervalMs }, this.clock);
    this.canRead = deps.canRead ?? readable;
  }

  /**
   * `ipmitool -V`, for start-up: a controller that cannot check BMCs must
   * say so at once rather than report every BMC unreachable. Resolves with
   * the version line; rejects with CordonError `unsupported`.
   */
  async assertAvailable(): Promise<string> {
    const r = await this.deps.runner.run(this.config.command, ['-V'], { timeoutMs: 5000 });
    if (r.code !== 0) throw new CordonError('unsupported', `${this.config.command} -V failed (exit ${r.code}); install ipmitool`);
    return r.stdout.trim();
  }

  async check(target: BmcTarget, signal?: AbortSignal): Promise<BmcCheck> {
    checkBmcTarget(target);
    return this.pacer.run(bmcKey(target), signal, () => this.probe(target, signal));
  }

  private async probe(t: BmcTarget, signal: AbortSignal | undefined): Promise<BmcCheck> {
    const started = this.clock.now();
    const solDown = t.sol ? 'unavailable' : 'not_required';
    const finish = (r: Omit<BmcCheck, 'hostId' | 'checkedAt' | 'durationMs'>): BmcCheck => ({
      hostId: t.hostId,
      checkedAt: started,
      durationMs: this.clock.now().getTime() - started.getTime(),
      ...r,
    });

    // Without a readable file ipmitool would log in with an empty password,
    // which counts towards the BMC's lockout for nothing.
    if (!(await this.canRead(t.passwordFile))) {
      return finish({ reachable: false, sol: solDown, attempts: 0, errorKind: 'other', error: `password file ${t.passwordFile} is not readable` });
    }

    const mc = await this.runCommand(t, ['mc', 'info'], signal);
    let attempts = mc.runs;
    let details = mc.ok ? pick(mc.stdout, MC_FIELDS) : {};
    if (!mc.ok && mc.failure.kind === 'other') {
      // The BMC may have answered and only mc info failed (an odd firmware);
      // chassis status shows it alive. Not after a timeout: the session set-up
      // that timed out is the same for every command.
      const chassis = await this.runCommand(t, ['chassis', 'status'], signal);
      attempts += chassis.runs;
      if (!chassis.ok) {
        const error = `mc info: ${describe(mc)}; chassis status: ${describe(chassis)}`;
        return finish({ reachable: false, sol: solDown, attempts, errorKind: chassis.failure.kind, error });
      }
      details = { ...pick(chassis.stdout, CHASSIS_FIELDS), 'Liveness Check': 'chassis status' };
    } else if (!mc.ok) {
      return finish({ reachable: false, sol: solDown, attempts, errorKind: mc.failure.kind, error: `mc info: ${describe(mc)}` });
    }

    if (!t.sol) return finish({ reachable: true, sol: 'not_required', attempts, details });
    const sol = await this.runCommand(t, ['sol', 'info', '1'], signal);
    attempts += sol.runs;
    if (!sol.ok) {
      return finish({ reachable: true, sol: 'unavailable', attempts, details, errorKind: sol.failure.kind, error: `sol info: ${describe(sol)}` });
    }
    const enabled = parseIpmitoolFields(sol.stdout)['Enabled'];
    details = { ...details, 'SOL Enabled': enabled ?? 'not reported' };
    if (enabled === 'true') return finish({ reachable: true, sol: 'ok', attempts, details });
    const error = `SOL is not enabled on channel 1 (sol info: Enabled ${enabled ?? 'not reported'})`;
    return finish({ reachable: true, sol: 'unavailable', attempts, details, errorKind: 'other', error });
  }

  /** One command, re-run while it fails in a retryable way, up to `attempts` runs. */
  private async runCommand(t: BmcTarget, command: IpmitoolCommand, signal: AbortSignal | undefined): Promise<Outcome> {
    const args = buildIpmitoolArgs(t, this.config, command);
    for (let run = 1; ; run++) {
      if (signal?.aborted) throw new CordonError('transient', `BMC check of ${t.hostId} aborted`, { cause: signal.reason });
      const t0 = this.clock.now().getTime();
      const r = await this.deps.runner.run(this.config.command, args, { timeoutMs: this.config.hardTimeoutMs });
      this.deps.log?.debug({ hostId: t.hostId, bmc: bmcKey(t), command: command.join(' '), run, code: r.code, ms: this.clock.now().getTime() - t0 }, 'ipmitool run');
      if (r.code === 0) return { ok: true, stdout: r.stdout, runs: run };
      const failure: IpmitoolFailure =
        r.code === KILLED
          ? { kind: 'timeout', reason: `ipmitool killed after ${this.config.hardTimeoutMs} ms without an answer` }
          : classifyIpmitoolFailure(r.stdout, r.stderr);
      if (!RETRYABLE.has(failure.kind) || run >= this.config.attempts) return { ok: false, failure, runs: run };
    }
  }
}

function describe(o: Extract<Outcome, { ok: false }>): string {
  return o.runs > 1 ? `${o.failure.reason}, ${o.runs} attempts` : o.failure.reason;
}

function pick(stdout: string, names: string[]): Record<string, string> {
  const fields = parseIpmitoolFields(stdout);
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = fields[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

async function readable(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
