import type { Client, ClientChannel } from 'ssh2';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { checkExpect, summarize, type StepOutcome, type SwitchSession } from './SwitchSession.js';
import type { ShellProfile, Step } from './VendorProfile.js';

/** Terminal colour and cursor sequences some CLIs emit even to vt100. */
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * Drives an interactive switch CLI over one SSH shell channel: write a line,
 * collect everything up to the next prompt, judge it with the profile. The
 * prompt at the very end of the output is the only sign that the CLI is done,
 * so paging is switched off first (`profile.setup`).
 */
export class ShellSession implements SwitchSession {
  private buffer = '';
  private lastPrompt = '';
  private broken: CordonError | undefined;
  private onChange: (() => void) | undefined;

  private constructor(
    private readonly client: Client,
    private readonly channel: ClientChannel,
    private readonly profile: ShellProfile,
    private readonly timeoutMs: number,
  ) {
    channel.on('data', (d: Buffer) => this.receive(d));
    channel.stderr.on('data', (d: Buffer) => this.receive(d));
    channel.once('close', () => {
      this.broken ??= new CordonError('transient', 'the switch closed the CLI session');
      this.onChange?.();
    });
  }

  /** Opens the shell, waits for the first prompt and runs the profile's setup; a refused setup line is `invalid`. */
  static async open(client: Client, profile: ShellProfile, timeoutMs: number): Promise<ShellSession> {
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      // A pty, because IOS and Junos only run their interactive CLI on one;
      // wide columns so that long lines are not wrapped into the output.
      client.shell({ term: 'vt100', cols: 512, rows: 24, width: 0, height: 0 }, (err, ch) =>
        err ? reject(new CordonError('transient', `cannot open a CLI session: ${err.message}`, { cause: err })) : resolve(ch),
      );
    });
    const session = new ShellSession(client, channel, profile, timeoutMs);
    await session.waitForPrompt('the login prompt');
    for (const step of profile.setup) {
      const { failure } = await session.run(step);
      if (failure) throw new CordonError('invalid', `session setup failed (is the account privileged enough?): ${failure}`);
    }
    return session;
  }

  async run(step: Step): Promise<StepOutcome> {
    if (this.broken) throw this.broken;
    this.buffer = '';
    this.channel.write(`${step.command}\n`);
    const { output, prompt } = await this.waitForPrompt(`"${step.command}"`);
    const body = dropEcho(output, step.command);
    const refused = this.profile.findError(body);
    const failure =
      (refused ? `"${step.command}" refused: ${refused}` : undefined) ??
      checkExpect(step, body) ??
      (step.expectPrompt && !step.expectPrompt.test(prompt) ? `"${step.command}" left the CLI at "${prompt}", not ${step.expectPrompt}` : undefined);
    return { output: body, prompt, ...(failure ? { failure } : {}) };
  }

  async recover(): Promise<void> {
    if (this.broken || !this.profile.configPrompt.test(this.lastPrompt)) return;
    for (const step of this.profile.recover) {
      try {
        await this.run(step);
      } catch {
        return; // the read-back that follows says what state this left
      }
    }
  }

  close(): void {
    this.channel.end();
    this.client.end();
  }

  private receive(d: Buffer): void {
    this.buffer += d.toString('utf8').replace(ANSI, '').replace(/\r/g, '');
    this.onChange?.();
  }

  private waitForPrompt(what: string): Promise<{ output: string; prompt: string }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.broken = new CordonError('transient', `no prompt after ${what} within ${this.timeoutMs} ms; last output: ${summarize(this.buffer)}`);
        this.channel.close();
        finish();
      }, this.timeoutMs);
      const finish = () => {
        const match = this.profile.prompt.exec(this.buffer);
        if (!match && !this.broken) return;
        clearTimeout(timer);
        this.onChange = undefined;
        if (!match) return reject(this.broken);
        this.lastPrompt = match[0].trim();
        const output = this.buffer.slice(0, match.index);
        this.buffer = '';
        resolve({ output, prompt: this.lastPrompt });
      };
      this.onChange = finish;
      finish();
    });
  }
}

/** The CLI echoes the typed line first; it is not part of the answer. */
function dropEcho(output: string, command: string): string {
  const lines = output.split('\n');
  return lines[0]?.trimEnd().endsWith(command) ? lines.slice(1).join('\n') : output;
}
