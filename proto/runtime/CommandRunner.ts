import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { CordonError } from './CordonError.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin (e.g. an nft ruleset for `nft -f -`). */
  input?: string;
  timeoutMs?: number;
}

/**
 * The one seam through which the agent runs nft, tc and ip. Unit tests pass a
 * recorder; system tests and production run the commands for real.
 */
export interface CommandRunner {
  run(command: string, args: string[], opts?: RunOptions): Promise<CommandResult>;
  /** Starts a long-lived command with its stdio piped (e.g. `nft -i`); runners that only record leave it out. */
  interactive?(command: string, args: string[]): ChildProcessWithoutNullStreams;
}

/**
 * Runs commands on this host, or inside a network namespace when `netns` is
 * set (`ip netns exec NS …`), which is how tests aim a real agent engine at a
 * namespace built for them.
 */
export class ExecRunner implements CommandRunner {
  constructor(private readonly netns?: string) {}

  interactive(command: string, args: string[]): ChildProcessWithoutNullStreams {
    return this.spawn(command, args);
  }

  async run(command: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
    // `sysctl -n KEY` in this process's own namespace is answered from /proc/sys, as sysctl itself does:
    // the same text without starting a process (the guard asks every 5 s). Anything unusual goes to sysctl.
    if (!this.netns && command === 'sysctl' && args.length === 2 && args[0] === '-n' && opts.input === undefined) {
      const value = await readSysctl(args[1]!);
      if (value !== undefined) return { code: 0, stdout: value, stderr: '' };
    }
    return this.runProcess(command, args, opts);
  }

  private runProcess(command: string, args: string[], opts: RunOptions): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const child = this.spawn(command, args);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
      child.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          err.code === 'ENOENT'
            ? new CordonError('unsupported', `${command} is not installed`, { cause: err })
            : new CordonError('transient', `cannot run ${command}: ${err.message}`, { cause: err }),
        );
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
      });
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input ?? '');
    });
  }

  /** In the runner's namespace when it has one, in the C locale so the output parses the same everywhere. */
  private spawn(command: string, args: string[]): ChildProcessWithoutNullStreams {
    const [cmd, argv] = this.netns ? ['ip', ['netns', 'exec', this.netns, command, ...args]] : [command, args];
    return spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  }
}

/** A sysctl key's value as `sysctl -n` prints it, or undefined where only sysctl can say (no such key, no right, an odd name). */
async function readSysctl(key: string): Promise<string | undefined> {
  if (!/^[a-z0-9_]+(\.[a-z0-9_-]+)+$/i.test(key)) return undefined;
  try {
    return await readFile(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Runs a command and returns stdout; a non-zero exit becomes a CordonError quoting stderr. */
export async function runChecked(runner: CommandRunner, command: string, args: string[], opts?: RunOptions): Promise<string> {
  const r = await runner.run(command, args, opts);
  if (r.code !== 0) {
    const detail = (r.stderr || r.stdout).trim().split('\n').slice(0, 6).join(' | ');
    throw new CordonError('transient', `${command} ${args.join(' ')} failed (exit ${r.code}): ${detail}`);
  }
  return r.stdout;
}

/** A runner for unit tests: records every call and answers from a script. */
export class RecordingRunner implements CommandRunner {
  readonly calls: { command: string; args: string[]; input?: string }[] = [];

  constructor(private readonly answer: (command: string, args: string[]) => Partial<CommandResult> = () => ({})) {}

  async run(command: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
    this.calls.push({ command, args, ...(opts.input !== undefined ? { input: opts.input } : {}) });
    return { code: 0, stdout: '', stderr: '', ...this.answer(command, args) };
  }
}
