import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { CordonError } from '../../proto/runtime/CordonError.js';

/**
 * A line nft cannot parse, echoed back in its error: it marks where the
 * answer to the line before it ends. A syntax error never reaches the kernel.
 */
const MARK = 'cordon-mark-';
/** What is kept of nft's output that no transaction waits for. */
const MAX_IDLE_OUTPUT = 64 * 1024;

/**
 * One long-lived `nft -i` for the enforcement's transactions. Starting `nft
 * -f` costs the agent's event loop a fork of its whole process and nft its
 * start and cache (3–16 ms to its exit on the benchmark machine); a line to
 * a running `nft -i` is applied in about 2 ms, on the way to the first
 * dropped packet (BENCHMARKS §1). Each line is one netlink batch: all of it
 * or none. The answer to a line is whatever nft writes to stderr before the
 * error of the marker line that follows it; a line whose answer holds an
 * `Error:` was refused. `run` rejects only when the session itself fails (no
 * answer in time, nft gone): the caller then closes it and runs `nft -f`,
 * and the next transaction starts a new session.
 */
export class NftSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private stderr = '';
  private seq = 0;
  private pending: { mark: string; done: (err: Error | undefined, answer?: string) => void } | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly start: () => ChildProcessWithoutNullStreams,
    private readonly timeoutMs = 5_000,
  ) {}

  /** Runs one transaction written on one line; resolves with nft's error output for it ('' when applied). */
  run(line: string): Promise<string> {
    const next = this.queue.then(() => this.runNow(line));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Ends the session (nft exits at the end of its input); the next `run` starts a new one. */
  close(): void {
    const child = this.child;
    this.child = undefined;
    this.stderr = '';
    this.pending?.done(new CordonError('transient', 'the nft session was closed'));
    this.pending = undefined;
    if (!child) return;
    child.stdin.end();
    // One that does not go at the end of its input is killed.
    setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), 2_000).unref();
  }

  private runNow(line: string): Promise<string> {
    if (/[\r\n]/.test(line)) return Promise.reject(new CordonError('internal', 'an nft session line holds a line break'));
    const child = this.ensure();
    const mark = `${MARK}${++this.seq}`;
    return new Promise<string>((resolve, reject) => {
      // A timer, not the pipes, keeps a one-shot command alive while nft answers: the session's own handles are unref'd.
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new CordonError('transient', `nft -i gave no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending = {
        mark,
        done: (err, answer) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(answer ?? '');
        },
      };
      child.stdin.write(`${line}\n${mark}\n`);
    });
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = this.start();
    this.child = child;
    this.stderr = '';
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    child.stdout.on('data', () => undefined);
    child.stderr.on('data', (chunk: Buffer) => this.onStderr(chunk.toString('utf8')));
    child.stdin.on('error', () => undefined);
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.pending?.done(new CordonError('transient', `nft -i ${why}`));
      this.pending = undefined;
    };
    child.on('error', (err) => gone(`cannot run: ${err.message}`));
    child.on('exit', (code, signal) => gone(`exited (${signal ?? code})`));
    return child;
  }

  private onStderr(text: string): void {
    this.stderr += text;
    const p = this.pending;
    if (!p) {
      if (this.stderr.length > MAX_IDLE_OUTPUT) this.stderr = this.stderr.slice(-MAX_IDLE_OUTPUT);
      return;
    }
    const at = this.stderr.indexOf(`\n${p.mark}\n`);
    if (at < 0) return;
    // The marker's error: its "Error: syntax error …" line before it, a caret line after it.
    const caretEnd = this.stderr.indexOf('\n', at + p.mark.length + 2);
    if (caretEnd < 0) return;
    const before = this.stderr.slice(0, at);
    const answer = before.slice(0, before.lastIndexOf('\n') + 1).trim();
    this.stderr = this.stderr.slice(caretEnd + 1);
    this.pending = undefined;
    p.done(undefined, answer);
  }
}

/** A transaction for `nft -f`, written on one line for a session: nft takes `;` wherever it takes a line break. */
export function oneLine(transaction: string): string {
  return transaction
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .join('; ');
}
