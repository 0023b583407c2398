import { createHash } from 'node:crypto';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { EnforcementPlan } from '../enforce/plan.js';
import { runChecked, type CommandRunner } from '../../proto/runtime/CommandRunner.js';
import type { Backend } from './Backend.js';
import { RULE_COMMENT, TABLE, renderTransaction } from './nftRuleset.js';
import { NftSession, oneLine } from './nftSession.js';

export interface NftObserved {
  present: boolean;
  isolate: boolean;
  smtpBlock: boolean;
  /** Digest of the table with handles and counters left out: changes only when the rules do. */
  fingerprint: string;
  /** Packets Cordon's rules dropped or rejected, by comment. */
  counters: Record<string, number>;
}

type NftJson = { nftables?: Record<string, unknown>[] };

/** Drops what changes without the rules changing (handles, counter values). */
function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'handle' || k === 'metainfo') continue;
    if (k === 'counter' && typeof v === 'object' && v !== null) {
      out[k] = {};
      continue;
    }
    out[k] = normalise(v);
  }
  return out;
}

/** Owns the `inet cordon` table: SMTP block and isolation. */
export class NftBackend implements Backend<NftObserved> {
  readonly name = 'nftables';

  /** The transaction this process last applied with success; undefined after a failure or a release. */
  private applied: string | undefined;
  /** A running `nft -i` for applies, where the runner can start one; dropped for good after it fails once. */
  private session: NftSession | undefined;

  constructor(
    private readonly runner: CommandRunner,
    private readonly opts: { session?: boolean; onSessionLost?: (why: string) => void } = {},
  ) {
    const start = runner.interactive?.bind(runner);
    if (opts.session !== false && start) this.session = new NftSession(() => start('nft', ['-i']));
  }

  async apply(plan: EnforcementPlan): Promise<void> {
    const transaction = renderTransaction(plan);
    this.applied = undefined;
    const answer = await this.applyInSession(transaction);
    if (answer === undefined) await runChecked(this.runner, 'nft', ['-f', '-'], { input: transaction });
    else if (/^Error:/m.test(answer)) {
      throw new CordonError('transient', `nft refused the transaction: ${answer.split('\n').slice(0, 6).join(' | ')}`);
    }
    this.applied = transaction;
  }

  /** nft's answer from the session, or undefined when there is none (or it failed: `nft -f` from then on). */
  private async applyInSession(transaction: string): Promise<string | undefined> {
    const session = this.session;
    if (!session) return undefined;
    try {
      return await session.run(oneLine(transaction));
    } catch (err) {
      this.session = undefined;
      session.close();
      this.opts.onSessionLost?.((err as Error).message);
      return undefined;
    }
  }

  /** Ends the `nft -i` session, if one runs. */
  close(): void {
    this.session?.close();
  }

  /**
   * Whether `plan` renders the transaction this process last applied. Only a
   * hint: the table may have changed since, which the caller's next
   * observation shows (see Engine.applyHeld).
   */
  sameAsApplied(plan: EnforcementPlan): boolean {
    return this.applied !== undefined && renderTransaction(plan) === this.applied;
  }

  async observe(): Promise<NftObserved> {
    const r = await this.runner.run('nft', ['-j', 'list', 'table', ...TABLE.split(' ')]);
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr)) {
        return { present: false, isolate: false, smtpBlock: false, fingerprint: 'absent', counters: {} };
      }
      throw new CordonError('transient', `nft list table ${TABLE} failed: ${r.stderr.trim()}`);
    }
    let parsed: NftJson;
    try {
      parsed = JSON.parse(r.stdout) as NftJson;
    } catch (err) {
      throw new CordonError('internal', `nft -j printed something that is not JSON: ${(err as Error).message}`);
    }
    const items = parsed.nftables ?? [];
    const counters: Record<string, number> = {};
    for (const item of items) {
      const rule = item.rule as { comment?: string; expr?: Record<string, unknown>[] } | undefined;
      if (!rule?.comment) continue;
      const counter = rule.expr?.find((e) => 'counter' in e)?.counter as { packets?: number } | undefined;
      counters[rule.comment] = (counters[rule.comment] ?? 0) + (counter?.packets ?? 0);
    }
    const fingerprint = createHash('sha256').update(JSON.stringify(normalise(items))).digest('hex');
    return {
      present: true,
      isolate: RULE_COMMENT.isolate in counters,
      smtpBlock: RULE_COMMENT.smtp in counters,
      fingerprint,
      counters,
    };
  }

  async release(): Promise<void> {
    this.applied = undefined;
    // Deleting a table that is not there is an error; creating it first makes
    // the release idempotent, in the same atomic transaction.
    await runChecked(this.runner, 'nft', ['-f', '-'], { input: `table ${TABLE}\ndelete table ${TABLE}\n` });
  }
}
