import type { CommandResult, CommandRunner, RunOptions } from '../../../proto/runtime/CommandRunner.js';
import type { Capture } from './ipmitoolCaptures.js';

export interface ScriptedCall {
  command: string;
  args: string[];
  opts: RunOptions | undefined;
  /** Ends a held call (see `hold`). */
  finish(result?: Partial<CommandResult>): void;
}

/**
 * A CommandRunner for driver tests: records argv and options (RecordingRunner
 * does not keep options, and the hard timeout is one), answers from a script
 * keyed by the ipmitool subcommand, and with `hold` keeps calls open until
 * the test ends them, to observe concurrency.
 */
export class ScriptedRunner implements CommandRunner {
  readonly calls: ScriptedCall[] = [];
  running = 0;
  maxRunning = 0;

  constructor(
    private readonly script: (subcommand: string, call: number) => Capture | Partial<CommandResult> = () => ({}),
    private readonly hold = false,
  ) {}

  run(command: string, args: string[], opts?: RunOptions): Promise<CommandResult> {
    const subcommand = args.slice(args.indexOf('-v') + 1).join(' ');
    const answer = { code: 0, stdout: '', stderr: '', ...this.script(subcommand, this.calls.length) };
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise((resolve) => {
      const finish = (result: Partial<CommandResult> = {}) => {
        this.running--;
        resolve({ code: answer.code, stdout: answer.stdout, stderr: answer.stderr, ...result });
      };
      this.calls.push({ command, args, opts, finish });
      if (!this.hold) finish();
    });
  }

  /** The subcommands run, in order ("mc info", "sol info 1", …). */
  get subcommands(): string[] {
    return this.calls.map((c) => c.args.slice(c.args.indexOf('-v') + 1).join(' '));
  }
}
