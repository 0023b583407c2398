import type { Client, ClientChannel } from 'ssh2';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { checkExpect, summarize, type StepOutcome, type SwitchSession } from './SwitchSession.js';
import type { Step } from './VendorProfile.js';

/**
 * Runs each step as its own SSH exec request (Linux switches): the command
 * line goes to the login shell, and the exit status tells success, so no
 * prompt is ever parsed.
 */
export class ExecSession implements SwitchSession {
  constructor(
    private readonly client: Client,
    private readonly commandTimeoutMs: number,
  ) {}

  run(step: Step): Promise<StepOutcome> {
    return new Promise((resolve, reject) => {
      this.client.exec(step.command, (err, channel: ClientChannel) => {
        if (err) {
          reject(new CordonError('transient', `cannot start "${step.command}": ${err.message}`, { cause: err }));
          return;
        }
        let stdout = '';
        let stderr = '';
        let exit: string | undefined;
        const timer = setTimeout(() => {
          channel.close();
          reject(new CordonError('transient', `"${step.command}" gave no answer within ${this.commandTimeoutMs} ms`));
        }, this.commandTimeoutMs);
        channel.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
        channel.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
        channel.on('exit', (code: number | null, signal?: string) => {
          exit = code === null ? `signal ${signal ?? '?'}` : String(code);
        });
        channel.once('close', () => {
          clearTimeout(timer);
          // No exit status at all (the connection died) is a transport failure,
          // not an answer: the command may or may not have run.
          if (exit === undefined) {
            reject(new CordonError('transient', `"${step.command}" ended without an exit status`));
            return;
          }
          const failure = exit !== '0' ? `"${step.command}" failed (exit ${exit}): ${summarize(stderr || stdout)}` : checkExpect(step, stdout);
          resolve({ output: stdout, ...(failure ? { failure } : {}) });
        });
      });
    });
  }

  /** Each exec request is independent: there is no mode to leave. */
  async recover(): Promise<void> {}

  close(): void {
    this.client.end();
  }
}
