import type { CommandResult, CommandRunner, RunOptions } from '../../proto/runtime/CommandRunner.js';

/**
 * A runner that lets backends observing the host side by side share one run
 * of a read-only command: the engine's observe asks the link and tc backends
 * at once, and both begin with `ip -j link show`. Only calls made in the same
 * synchronous turn are joined, so a read is never served from before a write.
 * The agent's idle cost is mostly these process starts (BENCHMARKS.md §4).
 */
export function sameTurnReads(runner: CommandRunner, readOnly: (command: string, args: string[]) => boolean): CommandRunner {
  const inFlight = new Map<string, Promise<CommandResult>>();
  const shared: CommandRunner = {
    run(command: string, args: string[], opts?: RunOptions): Promise<CommandResult> {
      if (opts?.input !== undefined || !readOnly(command, args)) return runner.run(command, args, opts);
      const key = JSON.stringify([command, args]);
      const joined = inFlight.get(key);
      if (joined) return joined;
      const started = runner.run(command, args, opts);
      inFlight.set(key, started);
      // Gone by the next tick, or once it has answered if that is sooner: its
      // answer is never handed to a caller who asks after it came.
      const forget = () => inFlight.get(key) === started && inFlight.delete(key);
      process.nextTick(forget);
      started.then(forget, forget);
      return started;
    },
  };
  if (runner.interactive) shared.interactive = runner.interactive.bind(runner);
  return shared;
}

/** The listings the link and tc backends both start from. */
export const isLinkListing = (command: string, args: string[]): boolean => command === 'ip' && args.join(' ') === '-j link show';
