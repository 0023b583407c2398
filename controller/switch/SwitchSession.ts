import type { Step } from './VendorProfile.js';

/** What one step produced: its output, and why it counts as failed, if it does. */
export interface StepOutcome {
  output: string;
  /** The switch's own words (or the exit status) when the step failed. */
  failure?: string;
  /** Shell sessions: the prompt the CLI showed after the step. */
  prompt?: string;
}

/**
 * One SSH connection to a switch, able to run a profile's steps in order.
 * `run` resolves for every answer the switch gave, including refusals
 * (`failure` set); it rejects only when the transport failed (timeout,
 * connection lost), in which case nothing is known about the step's effect.
 */
export interface SwitchSession {
  run(step: Step): Promise<StepOutcome>;
  /** After a failed step: leave whatever mode the step left the CLI in. Never throws. */
  recover(): Promise<void>;
  close(): void;
}

/** Applies a step's `expect` to an output that the device itself did not refuse. */
export function checkExpect(step: Step, output: string): string | undefined {
  if (step.expect && !step.expect.test(output)) return `"${step.command}" answered without ${step.expect}: ${summarize(output)}`;
  return undefined;
}

/** The first lines of an output, on one line, for error messages. */
export function summarize(output: string, maxLines = 4): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const head = lines.slice(0, maxLines).join(' | ');
  return lines.length === 0 ? '(no output)' : lines.length > maxLines ? `${head} | …` : head;
}
