import { asCordonError } from '../../proto/runtime/CordonError.js';
import type { CommandRunner } from '../../proto/runtime/CommandRunner.js';
import type { Log } from '../../proto/runtime/Log.js';
import { FailureCounter, JOURNAL_IDENTIFIERS, parseAuthFailure, type AuthFailure } from './authFailures.js';
import type { GuardPolicy } from './guardPolicy.js';
import { GUARD_TABLE, banSet } from './guardRuleset.js';

/** Sources whose failed-login services are kept for their ban's record; past it they are forgotten (the ban is named by its meters only). */
const MAX_NAMED = 10_000;

/**
 * The guard's failed-login reading (managed security): the servers' failed
 * logins from the journal since the last read, counted per source, and a
 * ban in the kernel set for each source that reached the policy's count
 * within its window. The guard's tick then books such a ban like a meter's.
 */
export class JournalBans {
  /** Where the journal was read up to (its cursor), or from when (s) before the first entry. */
  private cursor: string | undefined;
  private since: number | undefined;
  private failing = false;
  private readonly failures = new FailureCounter();
  /** Services of the failed logins that banned a source, for the ban's record. */
  private readonly services = new Map<string, string[]>();

  constructor(
    private readonly runner: CommandRunner,
    private readonly log: Log,
  ) {}

  /** Failed logins count from the moment the guard is on, not from the journal's beginning. Only the first call counts. */
  startAt(nowMs: number): void {
    this.since ??= Math.floor(nowMs / 1000);
  }

  /** The services whose failed logins banned `address`, once: the ban that takes them names them. */
  takeServices(address: string): string[] {
    const named = this.services.get(address) ?? [];
    this.services.delete(address);
    return named;
  }

  /**
   * Reads the journal since the last read (journalctl through the runner,
   * at most 5,000 entries) and bans, in the kernel set, each source not
   * `held` already that reached the policy's count. A journal that cannot
   * be read is logged once and tried again each tick; the meters go on
   * either way.
   */
  async read(policy: GuardPolicy, nowMs: number, isNever: (address: string) => boolean, held: Set<string>): Promise<void> {
    this.startAt(nowMs);
    const from = this.cursor ? [`--after-cursor=${this.cursor}`] : [`--since=@${this.since}`];
    // A host without journalctl (the runner throws) is a journal that cannot be read, not a failed tick.
    const r = await this.runner
      .run('journalctl', ['-o', 'json', '--no-pager', '-q', ...from, '-n', '5000', ...JOURNAL_IDENTIFIERS.map((i) => `SYSLOG_IDENTIFIER=${i}`)])
      .catch((err: unknown) => ({ code: -1, stdout: '', stderr: asCordonError(err).message }));
    if (r.code !== 0) {
      if (!this.failing) this.log.warn({ code: r.code, stderr: r.stderr.trim().slice(0, 200) }, 'cannot read the journal: failed logins are not counted (the meters still are)');
      this.failing = true;
      return;
    }
    this.failing = false;
    const found: AuthFailure[] = [];
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (typeof entry.__CURSOR === 'string') this.cursor = entry.__CURSOR;
      const f = parseAuthFailure(entry);
      if (f && !isNever(f.address)) found.push(f);
    }
    const over = this.failures.add(found, policy.authFailures, policy.authWindowSeconds * 1000);
    const toBan = [...over].filter(([address]) => !held.has(address));
    for (const [address, services] of toBan) {
      this.services.set(address, services);
      this.log.warn({ address, services, failures: policy.authFailures }, 'failed logins: source banned');
    }
    if (this.services.size > MAX_NAMED) this.services.clear();
    if (toBan.length > 0) {
      // `add` leaves an element already there as it is: a source the kernel banned meanwhile keeps its time.
      await this.runner.run('nft', ['-f', '-'], { input: toBan.map(([address]) => `add element ${GUARD_TABLE} ${banSet(address.includes(':') ? 6 : 4)} { ${address} }\n`).join('') });
    }
  }
}
