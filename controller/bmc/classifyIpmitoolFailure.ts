import type { BmcErrorKind } from './BmcDriver.js';

export interface IpmitoolFailure {
  kind: BmcErrorKind;
  /** One line for operators: what it means, then the line ipmitool printed. */
  reason: string;
}

interface Rule {
  kind: BmcErrorKind;
  pattern: RegExp;
  means: string;
}

/**
 * ipmitool's failure lines (1.8.19, lanplus, with `-v`, which the driver
 * always passes: without it a wrong password and a silent BMC both print only
 * "Unable to establish IPMI v2 / RMCP+ session"). First match wins, so the
 * order matters: local problems, then refusals, then silence. Every line here
 * was either captured from the real tool (see test/unit/bmc/ipmitoolCaptures.ts)
 * or taken from the messages built into ipmitool 1.8.19 (`strings` of the
 * binary) for cases a simulator cannot produce.
 */
const RULES: readonly Rule[] = [
  // Nothing meaningful was sent: local configuration.
  { kind: 'other', pattern: /^Unable to read password from file.*$/m, means: 'the password file cannot be read' },
  { kind: 'other', pattern: /^Unsupported cipher suite ID.*$/m, means: 'ipmitool does not know this cipher suite' },
  // Nothing could be sent at all.
  { kind: 'unreachable', pattern: /^Address lookup for .* failed.*$/m, means: 'the BMC address does not resolve' },
  { kind: 'unreachable', pattern: /^Could not open socket!?$/m, means: 'no route to the BMC' },
  // The BMC answered but has no room for us: alive, yet not a credentials problem.
  { kind: 'other', pattern: /^.*(insufficient resources for session|No session slot available).*$/im, means: 'the BMC has no free session slot' },
  // The BMC answered and refused who we are or how we asked.
  { kind: 'auth', pattern: /^.*RAKP 2 HMAC is invalid.*$/m, means: 'wrong password' },
  { kind: 'auth', pattern: /^.*RAKP [24] message indicates an error.*$/m, means: 'the BMC refused the user or role' },
  { kind: 'auth', pattern: /^.*RAKP 4 message has invalid integrity check value.*$/m, means: 'the session keys do not match (password)' },
  { kind: 'auth', pattern: /^Error in open session response message.*$/m, means: 'the BMC refused the cipher suite or role' },
  { kind: 'auth', pattern: /^Set Session Privilege Level to .* failed.*$/m, means: 'the account may not use this privilege level' },
  // Sent, and nothing came back. "Get Auth Capabilities error" with a
  // completion code after it is an answer, so only the bare line counts.
  { kind: 'timeout', pattern: /^Get Auth Capabilities error$/m, means: 'no answer from the BMC' },
  { kind: 'timeout', pattern: /^.*no response from RAKP [13] message.*$/im, means: 'the BMC stopped answering during the handshake' },
  { kind: 'timeout', pattern: /^Timeout in open session response message.*$/m, means: 'the BMC stopped answering during the handshake' },
  { kind: 'timeout', pattern: /^.*No response from remote controller.*$/m, means: 'the BMC stopped answering' },
];

/** Lines `-v` adds that say nothing about the failure. */
const NOISE = /^(Loading IANA PEN Registry\.\.\.|Running Get VSO Capabilities.*|Discovered IPMB address.*|Invalid completion code received: Invalid command|Get HPM\.x Capabilities request failed.*|Info: .*)$/;

/** ipmitool's closing line after any session failure; it names no cause. */
const SUMMARY = /^Error: Unable to establish IPMI v2 \/ RMCP\+ session$/;

/**
 * Says why an ipmitool run that exited non-zero failed, from what it printed.
 * This is the only place Cordon reads ipmitool's error text (it has no other
 * channel: exit code 1 for everything); callers branch on `kind` only.
 * Anything unrecognised is `other`, quoting the last line that names a
 * cause (ipmitool's closing "Unable to establish …" line only sums up).
 * A run killed by the caller's hard timeout never reaches here: it printed
 * nothing useful and is a `timeout` by definition.
 */
export function classifyIpmitoolFailure(stdout: string, stderr: string): IpmitoolFailure {
  const text = `${stderr}\n${stdout}`;
  for (const rule of RULES) {
    const line = rule.pattern.exec(text)?.[0]?.trim();
    if (line !== undefined) return { kind: rule.kind, reason: `${rule.means} (ipmitool: ${line})` };
  }
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !NOISE.test(l));
  // ipmitool prints its start-up probing first and the failure last.
  const cause = lines.filter((l) => !SUMMARY.test(l)).at(-1) ?? lines[0] ?? 'no output';
  return { kind: 'other', reason: `ipmitool failed (ipmitool: ${cause})` };
}
