import { samePort } from './portName.js';
import type { ShellProfile } from './VendorProfile.js';

/** `Switch#`, `Switch>`, `Switch(config)#`, `Switch(config-if)#` at the end of the output. */
const PROMPT = /(?:^|\n)[A-Za-z0-9._/-]+(?:\(config[A-Za-z0-9-]*\))?[#>] ?$/;
const CONFIG_PROMPT = /\(config[A-Za-z0-9-]*\)# ?$/;
const GLOBAL_CONFIG = /\(config\)# ?$/;
const INTERFACE_CONFIG = /\(config-if\)# ?$/;
/** Privileged exec: configuration changes need it, and `end` must land there. */
const PRIVILEGED_EXEC = /(?:^|\n)[A-Za-z0-9._/-]+# ?$/;

/**
 * IOS answers a rejected line with a message starting `% ` (`% Invalid input
 * detected at '^' marker.`, `% Ambiguous command: "…"`, `% Incomplete
 * command.`). Any such line counts as an error, known wording or not: an
 * unrecognised complaint stops the sequence rather than being ignored. Syslog
 * lines (`%LINK-3-UPDOWN: …`) have no space after the `%` and do not match.
 */
function findIosError(output: string): string | undefined {
  const line = output.split('\n').find((l) => /^% \S/.test(l.trim()));
  return line?.trim();
}

/**
 * The `Status` column of `show interfaces X status` for admin state: only
 * `disabled` means shut; `connected`, `notconnect`, `err-disabled`,
 * `sfpAbsent`, … are states of a port that is administratively up. A word
 * not in this list reads as unknown rather than being guessed.
 */
const UP_STATUSES = new Set(['connected', 'notconnect', 'err-disabled', 'inactive', 'monitoring', 'suspended', 'faulty', 'sfpabsent', 'xcvrabsen']);

/**
 * Reads the row for `port` in `show interfaces X status`. IOS prints short
 * names (`Gi1/0/5` for `GigabitEthernet1/0/5`), hence `samePort`. The column is
 * located from the header, because the `Name` (description) column before it
 * may hold spaces or even the word `disabled`.
 */
export function parseIosStatus(port: string, output: string): boolean | undefined {
  const lines = output.split('\n');
  const header = lines.find((l) => /^Port\s+Name\s+Status\s/.test(l));
  if (header === undefined) return undefined;
  const column = header.indexOf('Status');
  const row = lines.find((l) => samePort('ios', l.split(/\s+/)[0] ?? '', port));
  if (row === undefined) return undefined;
  const status = (row.slice(column).trim().split(/\s+/)[0] ?? '').toLowerCase();
  if (status === 'disabled') return false;
  return UP_STATUSES.has(status) ? true : undefined;
}

/**
 * Cisco IOS / IOS-XE access switches, over an interactive shell. The user must
 * land in privileged exec (`#`); changes go to the running configuration only
 * (no `write memory`), so a switch reload reopens the port and the
 * controller's next read-back sees it.
 */
export const iosProfile: ShellProfile = {
  vendor: 'ios',
  transport: 'shell',
  prompt: PROMPT,
  configPrompt: CONFIG_PROMPT,
  setup: [{ command: 'terminal length 0', expectPrompt: PRIVILEGED_EXEC }],
  setSteps: (port, up) => [
    { command: 'configure terminal', expectPrompt: GLOBAL_CONFIG },
    // The prompt check is what proves `interface X` named a real interface
    // before `shutdown` is typed into it.
    { command: `interface ${port}`, expectPrompt: INTERFACE_CONFIG },
    { command: up ? 'no shutdown' : 'shutdown', expectPrompt: INTERFACE_CONFIG },
    { command: 'end', expectPrompt: PRIVILEGED_EXEC },
  ],
  readStep: (port) => ({ command: `show interfaces ${port} status`, expectPrompt: PRIVILEGED_EXEC }),
  parseAdminUp: parseIosStatus,
  recover: [{ command: 'end', expectPrompt: PRIVILEGED_EXEC }],
  findError: findIosError,
};
