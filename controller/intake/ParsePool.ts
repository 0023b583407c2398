import { Worker } from 'node:worker_threads';
import { CordonError, type ErrorKind } from '../../proto/runtime/CordonError.js';
import { silentLogger, type Logger } from '../../proto/runtime/logger.js';
import { DEFAULT_INTAKE_LIMITS, checkLimit, type IntakeLimits } from './limits.js';
import { parseWorkerUrl } from './parseWorkerUrl.js';
import { rawMessageId } from './readMessageIds.js';
import { ExcerptUnpacker, type PackedExcerpts } from './sharedExcerpt.js';
import type { ParseResult, ParsedComplaint } from './types.js';

/** A worker that has not loaded its code after this long is broken, not busy. */
const STARTUP_SECONDS = 60;

export interface ParsePoolOptions {
  limits?: IntakeLimits | undefined;
  /** Workers at most, started when needed and kept for the next report. A slow report holds only its own. */
  workers?: number | undefined;
  log?: Logger | undefined;
}

/** What a parse worker answers: ready once loaded; per job, its complaints in batches, then done (the rest of the result) or failed. */
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'complaints'; id: number; complaints: ParsedComplaint[]; excerpts: PackedExcerpts }
  | { type: 'done'; id: number; result: ParseResult }
  | { type: 'failed'; id: number; kind: ErrorKind; message: string };

interface Job {
  id: number;
  raw: Buffer;
  filename: string | undefined;
  /** The complaints received so far, excerpts restored. */
  complaints: ParsedComplaint[];
  excerpts: ExcerptUnpacker;
  settle: (outcome: { result: ParseResult } | { error: CordonError }) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The worker loaded its code: a later failure is the report's, an earlier one the installation's. */
  ready: boolean;
}

/**
 * Parses reports in worker threads (parseReportInProcess in
 * dist/controller/intake/parseWorker.js), so that parsing never blocks the
 * controller's event loop and a hostile report is bounded by the worker's
 * limits: its V8 heap (intake.limits.workerHeapMb; past it the worker dies,
 * not the controller) and its time (intake.limits.parseSeconds; past it the
 * worker is terminated). Either way the report becomes needs_info naming
 * the limit, and the next report gets a fresh worker. Workers start on
 * first use and are reused; an idle worker does not keep the process alive.
 */
export class ParsePool {
  readonly limits: IntakeLimits;
  private readonly size: number;
  private readonly log: Logger;
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextId = 1;

  constructor(options: ParsePoolOptions = {}) {
    this.limits = options.limits ?? DEFAULT_INTAKE_LIMITS;
    this.size = Math.max(1, options.workers ?? 1);
    this.log = options.log ?? silentLogger();
  }

  /**
   * The report's complaints or needs_info reason, as parseReportInProcess
   * gives them, or needs_info when the worker ran out of time or memory.
   * Throws IntakeLimitError (kind invalid) for a report over
   * intake.limits.maxReportBytes, before anything is parsed; CordonError
   * internal when no worker can be started (a broken installation),
   * transient when the pool was closed while the report waited.
   */
  async parse(raw: Buffer, filename?: string): Promise<ParseResult> {
    checkLimit(this.limits, 'maxReportBytes', raw.length, 'the report');
    const outcome = await new Promise<{ result: ParseResult } | { error: CordonError }>((resolve) => {
      let settled = false;
      const settle = (o: { result: ParseResult } | { error: CordonError }): void => {
        if (!settled) resolve(o);
        settled = true;
      };
      this.queue.push({ id: this.nextId++, raw, filename, complaints: [], excerpts: new ExcerptUnpacker(), settle });
      this.dispatch();
    });
    if ('error' in outcome) throw outcome.error;
    return outcome.result;
  }

  /** Terminates every worker; reports still waiting fail as transient. The pool can be used again: it starts new workers. */
  async close(): Promise<void> {
    for (const job of this.queue.splice(0)) job.settle({ error: new CordonError('transient', 'report parsing is shutting down') });
    await Promise.all([...this.slots].map((slot) => this.stop(slot, { error: new CordonError('transient', 'report parsing is shutting down') })));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = [...this.slots].find((s) => s.job === undefined);
      if (!slot) {
        if (this.slots.size >= this.size) return;
        try {
          slot = this.start();
        } catch (err) {
          const error = err instanceof CordonError ? err : new CordonError('internal', `cannot start a parse worker: ${(err as Error).message}`, { cause: err });
          for (const job of this.queue.splice(0)) job.settle({ error });
          return;
        }
      }
      this.run(slot, this.queue.shift()!);
    }
  }

  private start(): Slot {
    const worker = new Worker(parseWorkerUrl(), {
      workerData: { limits: this.limits },
      resourceLimits: { maxOldGenerationSizeMb: this.limits.workerHeapMb },
      // The parent's flags (a test runner's loaders, inspector) are not for the worker.
      execArgv: [],
    });
    const slot: Slot = { worker, job: undefined, timer: undefined, ready: false };
    this.slots.add(slot);
    worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    worker.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        this.fail(slot, `parse ran out of memory: over intake.limits.workerHeapMb (${this.limits.workerHeapMb} MiB); the parse worker was stopped`);
      } else if (!slot.ready) {
        this.finish(slot, { error: new CordonError('internal', `the parse worker did not start: ${err.message}`, { cause: err }) });
      } else {
        this.fail(slot, `the parse worker failed: ${err.message}`);
      }
    });
    worker.on('exit', (code) => {
      this.slots.delete(slot);
      clearTimeout(slot.timer);
      if (slot.job) this.fail(slot, `the parse worker stopped (exit code ${code})`);
      this.dispatch();
    });
    worker.unref();
    return slot;
  }

  private run(slot: Slot, job: Job): void {
    slot.job = job;
    slot.worker.ref();
    // The worker gets its own copy, moved rather than copied again: the caller keeps `raw` to store it.
    const copy = new Uint8Array(job.raw.length);
    copy.set(job.raw);
    slot.worker.postMessage({ id: job.id, raw: copy, filename: job.filename }, [copy.buffer]);
    if (slot.ready) this.startClock(slot, job);
    else {
      // The report's time starts once the worker has loaded its code; a worker that never does is the installation's fault.
      slot.timer = setTimeout(() => {
        void this.stop(slot, { error: new CordonError('internal', `the parse worker did not start within ${STARTUP_SECONDS} s`) });
      }, STARTUP_SECONDS * 1000);
    }
  }

  /** intake.limits.parseSeconds for the job the worker now works on. */
  private startClock(slot: Slot, job: Job): void {
    clearTimeout(slot.timer);
    slot.timer = setTimeout(() => {
      this.log.warn({ filename: job.filename, seconds: this.limits.parseSeconds }, 'report parse timed out; stopping its worker');
      void this.stop(slot, this.needsInfo(job, `parse took longer than intake.limits.parseSeconds (${this.limits.parseSeconds} s); the parse worker was stopped`));
    }, this.limits.parseSeconds * 1000);
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    if (reply.type === 'ready') {
      slot.ready = true;
      if (slot.job) this.startClock(slot, slot.job);
      return;
    }
    const job = slot.job;
    if (!job || job.id !== reply.id) return;
    if (reply.type === 'complaints') {
      job.excerpts.unpack(reply.complaints, reply.excerpts);
      for (const c of reply.complaints) job.complaints.push(c);
      return;
    }
    if (reply.type === 'failed') this.finish(slot, { error: new CordonError(reply.kind, reply.message) });
    else this.finish(slot, { result: { ...reply.result, complaints: job.complaints } });
    this.dispatch();
  }

  private needsInfo(job: Job, reason: string): { result: ParseResult } {
    return { result: { complaints: [], needsInfo: reason, messageId: rawMessageId(job.raw) } };
  }

  /** The worker's job ends as needs_info (the report's fault: time, memory, a crash on it); the worker is replaced. */
  private fail(slot: Slot, reason: string): void {
    if (!slot.job) return;
    this.log.warn({ filename: slot.job.filename, reason }, 'report parse failed in its worker');
    this.finish(slot, this.needsInfo(slot.job, reason));
  }

  private finish(slot: Slot, outcome: { result: ParseResult } | { error: CordonError }): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const job = slot.job;
    slot.job = undefined;
    slot.worker.unref();
    job?.settle(outcome);
  }

  private async stop(slot: Slot, outcome: { result: ParseResult } | { error: CordonError }): Promise<void> {
    this.finish(slot, outcome);
    this.slots.delete(slot);
    await slot.worker.terminate();
  }
}

let shared: ParsePool | undefined;

/** The pool parseReport uses: the one setSharedParsePool installed, or one with the default limits. */
export function sharedParsePool(): ParsePool {
  return (shared ??= new ParsePool());
}

/**
 * Installs the pool parseReport uses from now on (the controller's, with
 * its configured intake.limits) and closes the one it replaces. Returns it,
 * for the caller to close at shutdown.
 */
export function setSharedParsePool(options: ParsePoolOptions): ParsePool {
  const old = shared;
  shared = new ParsePool(options);
  void old?.close();
  return shared;
}
