import { asCordonError, CordonError } from '../../proto/runtime/CordonError.js';
import type { Logger } from '../../proto/runtime/logger.js';
import { outboxMessageId, type MailTransport } from './MailSender.js';
import { NEVER, type OutboxItem, type OutboxSource } from './OutboxSource.js';
import { parseOutboxMail } from './parseMailPayload.js';
import { renderOutboxMail, type MailInput, type RenderedMail } from './renderMail.js';
import { isManagedSecurityMail, parseManagedSecurityPayload, renderManagedSecurityMail } from '../security/managedSecurityMail.js';

export interface OutboxWorkerConfig {
  /** How often to look for due mail when nobody kicks. */
  pollIntervalMs: number;
  /** Rows claimed per pass; a full batch is followed by another pass at once. */
  batchSize: number;
  /** Attempts (this one included) after which a transiently failing mail is given up. */
  maxAttempts: number;
  /** Retry delay after the first failure; doubles per failure up to `retryMaxMs`. */
  retryInitialMs: number;
  retryMaxMs: number;
}

export const DEFAULT_OUTBOX_WORKER_CONFIG: OutboxWorkerConfig = {
  pollIntervalMs: 1_000,
  batchSize: 10,
  maxAttempts: 20,
  retryInitialMs: 60_000,
  retryMaxMs: 3_600_000,
};

export interface OutboxWorkerDeps {
  source: OutboxSource;
  transport: MailTransport;
  /** The desk's identity, from config at send time. */
  desk: MailInput['desk'];
  /** Decides what is due and when a retry is; the poll timer itself runs on real time. */
  clock: { now(): Date };
  log: Logger;
  config?: Partial<OutboxWorkerConfig>;
  /** The customer page's URL for a link id (CustomerLinks.url); absent when the page is off, and mail then carries no link. */
  linkUrl?: ((linkId: string) => string) | undefined;
  /** A host's managed-security page for its customer (SecurityPages.url); absent: those mails carry no link. */
  securityUrl?: ((hostId: string, customerId: string) => string) | undefined;
}

/** Delay before the next attempt after `failures` failed ones (1, 2, 3 …): exponential, capped. */
export function retryDelayMs(failures: number, config: Pick<OutboxWorkerConfig, 'retryInitialMs' | 'retryMaxMs'>): number {
  return Math.min(config.retryMaxMs, config.retryInitialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}

/**
 * Delivers customer mail from the outbox, one message at a time.
 *
 * Each row is parsed, rendered with the desk's identity and sent with the
 * Message-ID `<outbox-ID.REF@cordon>` (the row's id and random ref). Then:
 * - accepted → `markDone`;
 * - `transient` (relay down, 4xx) → `markFailed` with a retry after 1 min,
 *   2, 4 … capped at 1 h; after `maxAttempts` it is given up: `markFailed`
 *   with `NEVER` and an error log;
 * - `refused` (5xx), `invalid` (unreadable row) or an unexpected error → not
 *   retried: `markFailed` with `NEVER` and an error log. So is a row claimed
 *   more than `maxAttempts` times without an outcome (it keeps killing us).
 *
 * At-least-once: a crash after the relay accepted a mail but before
 * `markDone` sends it again later, with the same Message-ID, so a receiver
 * that drops duplicates by Message-ID sees it once. A row is never lost.
 */
export class OutboxWorker {
  private readonly config: OutboxWorkerConfig;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private started = false;
  private stopping = false;

  constructor(private readonly deps: OutboxWorkerDeps) {
    this.config = { ...DEFAULT_OUTBOX_WORKER_CONFIG, ...deps.config };
    this.log = deps.log.child({ component: 'outbox-mail' });
  }

  /** Starts polling, with a first pass at once (mail that came due while the controller was down). Idempotent. */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.trigger();
  }

  /** Runs a pass now, or right after the one in progress; for "a commit just queued mail". No-op unless started. */
  kick(): void {
    this.trigger();
  }

  /**
   * Stops polling and waits for the send in progress (bounded by the
   * sender's socket timeout). Rows claimed but not yet sent keep their lease
   * and are claimed again when it runs out. A stopped worker stays stopped.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: claim due rows and deliver them in order. Resolves with the number claimed; never rejects. For tests and step-by-step runs of a worker that is not started. */
  async runOnce(): Promise<number> {
    let items: OutboxItem[];
    try {
      items = await this.deps.source.claimDue(this.deps.clock.now(), this.config.batchSize);
    } catch (err) {
      this.log.error({ err }, 'cannot claim mail from the outbox; trying again at the next poll');
      return 0;
    }
    for (const item of items) {
      if (this.stopping) break;
      await this.deliver(item);
    }
    return items.length;
  }

  private trigger(): void {
    if (!this.started || this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.stopping) return;
      const soon = this.again;
      this.again = false;
      this.timer = setTimeout(() => this.trigger(), soon ? 0 : this.config.pollIntervalMs);
    });
  }

  /** Passes until a batch comes back short, so a backlog does not wait a poll interval per batch. */
  private async drain(): Promise<void> {
    for (;;) {
      const claimed = await this.runOnce();
      if (claimed < this.config.batchSize || this.stopping) return;
    }
  }

  private async deliver(item: OutboxItem): Promise<void> {
    const ctx = { outboxId: item.id, incident: item.incidentId, attempt: item.attempts };
    let messageId: string;
    let template: string;
    try {
      if (item.kind !== 'mail') throw new CordonError('invalid', `outbox row of kind ${String(item.kind)} handed to the mail worker`);
      // Claims that never reached markDone/markFailed: something kills the worker on this row. Stop feeding it.
      if (item.attempts > this.config.maxAttempts) throw new CordonError('internal', `claimed ${item.attempts} times without an outcome`);
      // An incident's mail and a changed notice address go to payload.customer; a reporter's outcome to payload.to.
      let mail: RenderedMail;
      let to: { name: string; email: string };
      if (isManagedSecurityMail(item.payload)) {
        // Managed security's mail (no incident): its own template, its page made from the host and customer ids.
        const p = parseManagedSecurityPayload(item.payload);
        template = p.template;
        mail = renderManagedSecurityMail(p, this.deps.desk, this.deps.securityUrl?.(p.host.id, p.customer.id));
        to = p.customer;
      } else {
        const payload = parseOutboxMail(item.payload);
        template = payload.template;
        mail = renderOutboxMail(payload, this.deps.desk, this.deps.linkUrl);
        to = 'to' in payload ? payload.to : payload.customer;
      }
      messageId = await this.deps.transport.send({ name: to.name, address: to.email }, mail, {
        messageId: outboxMessageId(item.id, item.ref),
      });
    } catch (err) {
      await this.failed(item, asCordonError(err), ctx);
      return;
    }
    // The at-least-once boundary: from here until markDone commits, a crash means this mail goes out again (same Message-ID).
    try {
      await this.deps.source.markDone(item.id);
      this.log.info({ ...ctx, template, messageId }, 'mail delivered');
    } catch (err) {
      this.log.error({ ...ctx, messageId, err }, 'mail delivered but not marked done; it will be sent again with the same Message-ID');
    }
  }

  private async failed(item: OutboxItem, err: CordonError, ctx: Record<string, unknown>): Promise<void> {
    const attempt = item.attempts;
    const giveUp = !err.retryable || attempt >= this.config.maxAttempts;
    const retryAt = giveUp ? NEVER : new Date(this.deps.clock.now().getTime() + retryDelayMs(attempt, this.config));
    const reason = !err.retryable ? `not retried (${err.kind})` : giveUp ? `given up after ${attempt} attempts` : undefined;
    if (reason) this.log.error({ ...ctx, kind: err.kind, error: err.message }, `mail ${reason}; the outbox row is kept`);
    else this.log.warn({ ...ctx, error: err.message, retryAt: retryAt.toISOString() }, 'mail not delivered; will retry');
    try {
      await this.deps.source.markFailed(item.id, reason ? `${reason}: ${err.message}` : err.message, retryAt);
    } catch (markErr) {
      // The lease runs out and the row is claimed again: nothing lost, one attempt repeated.
      this.log.error({ ...ctx, err: markErr }, 'cannot record the failed mail attempt in the outbox');
    }
  }
}
