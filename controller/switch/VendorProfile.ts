import type { SwitchVendor } from './SwitchDriver.js';

/** One line sent to the switch, and what its answer must look like. */
export interface Step {
  command: string;
  /** The answer must match this (Junos `commit complete`), or the step failed. */
  expect?: RegExp;
  /** Shell only: the prompt after the step must match this (`(config-if)#`), or the step failed. */
  expectPrompt?: RegExp;
}

interface ProfileBase {
  vendor: SwitchVendor;
  /** The steps that set `port` admin up or down, in order; the driver stops at the first failure. */
  setSteps(port: string, up: boolean): Step[];
  /** The one step whose output `parseAdminUp` reads. */
  readStep(port: string): Step;
  /**
   * The admin state `output` (of `readStep`) shows for `port`: `undefined`
   * when the output does not show it (no such port, unexpected format).
   */
  parseAdminUp(port: string, output: string): boolean | undefined;
}

/**
 * A switch whose ports are changed by separate commands, each in its own SSH
 * exec channel (Linux switches: Cumulus, SONiC). A step failed when its exit
 * status is not 0.
 */
export interface ExecProfile extends ProfileBase {
  transport: 'exec';
}

/**
 * A switch with an interactive CLI, driven line by line over one SSH shell
 * channel: send a line, wait for the prompt, judge what came back.
 */
export interface ShellProfile extends ProfileBase {
  transport: 'shell';
  /** Matches the prompt at the very end of the output (any mode). */
  prompt: RegExp;
  /** Matches a configuration-mode prompt: after a failure there, `recover` is sent. */
  configPrompt: RegExp;
  /** Sent once after login (paging off, so output never waits on `--More--`). */
  setup: Step[];
  /** Leaves configuration mode without keeping half-done edits, after a failed step. */
  recover: Step[];
  /** The device's own words when a line was rejected, or `undefined` if it was accepted. */
  findError(output: string): string | undefined;
}

/**
 * A vendor's CLI as pure functions: the commands to send and how to read the
 * answers. No I/O here, so the unit tests pin the exact command sequences.
 */
export type VendorProfile = ExecProfile | ShellProfile;
