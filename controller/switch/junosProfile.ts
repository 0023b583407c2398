import type { ShellProfile } from './VendorProfile.js';

/** `user@switch> ` (operational) or `user@switch# ` (configuration) at the end of the output. */
const PROMPT = /(?:^|\n)[A-Za-z0-9._-]+@[A-Za-z0-9._-]+[>#] ?$/;
const CONFIG_PROMPT = /@[A-Za-z0-9._-]+# ?$/;
const OPERATIONAL_PROMPT = /@[A-Za-z0-9._-]+> ?$/;

/**
 * Junos rejects a line with `error: …`, `syntax error.` (after a `^` marker),
 * `unknown command.` or `missing argument.`; warnings (`warning: statement
 * not found` when deleting a `disable` that is not there) are not failures,
 * which keeps re-opening an open port idempotent.
 */
function findJunosError(output: string): string | undefined {
  const line = output.split('\n').find((l) => /^(error:|syntax error|unknown command|missing argument)/.test(l.trim()));
  return line?.trim();
}

/**
 * Admin state from `show interfaces X terse`: the row whose first column is
 * exactly the physical port (not its logical units, `ge-0/0/5.0`), second
 * column `Admin` `up` or `down`.
 */
export function parseJunosTerse(port: string, output: string): boolean | undefined {
  for (const line of output.split('\n')) {
    const [name, admin] = line.trim().split(/\s+/);
    if (name !== port) continue;
    if (admin === 'up') return true;
    if (admin === 'down') return false;
    return undefined;
  }
  return undefined;
}

/**
 * Juniper Junos (EX/QFX), over an interactive shell. `configure private`
 * rather than plain `configure`: in the shared candidate, `commit` would also
 * commit whatever another operator had left uncommitted; in a private
 * candidate only Cordon's one statement is committed (and Junos refuses to
 * enter it while the shared candidate holds uncommitted changes, which is
 * reported as a failed step).
 */
export const junosProfile: ShellProfile = {
  vendor: 'junos',
  transport: 'shell',
  prompt: PROMPT,
  configPrompt: CONFIG_PROMPT,
  setup: [
    // No paging, no wrapping, and no completion on space, so the CLI echoes
    // exactly what was typed and never waits on `---(more)---`.
    { command: 'set cli screen-length 0', expectPrompt: OPERATIONAL_PROMPT },
    { command: 'set cli screen-width 1024', expectPrompt: OPERATIONAL_PROMPT },
    { command: 'set cli complete-on-space off', expectPrompt: OPERATIONAL_PROMPT },
  ],
  setSteps: (port, up) => [
    { command: 'configure private', expectPrompt: CONFIG_PROMPT },
    { command: `${up ? 'delete' : 'set'} interfaces ${port} disable`, expectPrompt: CONFIG_PROMPT },
    { command: 'commit', expect: /^commit complete$/m, expectPrompt: CONFIG_PROMPT },
    { command: 'exit', expectPrompt: OPERATIONAL_PROMPT },
  ],
  readStep: (port) => ({ command: `show interfaces ${port} terse`, expectPrompt: OPERATIONAL_PROMPT }),
  parseAdminUp: parseJunosTerse,
  // Drop the uncommitted candidate first so `exit` cannot stop to ask about it.
  recover: [
    { command: 'rollback 0', expectPrompt: CONFIG_PROMPT },
    { command: 'exit', expectPrompt: OPERATIONAL_PROMPT },
  ],
  findError: findJunosError,
};
