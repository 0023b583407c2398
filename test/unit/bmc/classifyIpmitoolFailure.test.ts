import { describe, expect, it } from 'vitest';
import { classifyIpmitoolFailure } from '../../../controller/bmc/classifyIpmitoolFailure.js';
import { captures } from './ipmitoolCaptures.js';

const FAILED = 'Error: Unable to establish IPMI v2 / RMCP+ session\n';

describe('classifyIpmitoolFailure on real ipmitool output', () => {
  it.each([
    ['wrongPassword', 'auth', 'wrong password (ipmitool: > RAKP 2 HMAC is invalid)'],
    ['unknownUser', 'auth', 'refused the user or role (ipmitool: RAKP 2 message indicates an error : unauthorized name)'],
    ['cipherSuiteRefused', 'auth', 'refused the cipher suite or role (ipmitool: Error in open session response message : invalid authentication algorithm)'],
    ['cipherSuiteUnknown', 'other', 'does not know this cipher suite'],
    // ipmitool goes on with an empty password after this; the file, not the BMC, is at fault.
    ['passwordFileMissing', 'other', 'the password file cannot be read (ipmitool: Unable to read password from file /nonexistent/pw)'],
    ['simulatorStopped', 'timeout', 'no answer from the BMC (ipmitool: Get Auth Capabilities error)'],
    ['simulatorPaused', 'timeout', 'no answer from the BMC'],
    ['nameNotFound', 'unreachable', 'does not resolve (ipmitool: Address lookup for bmc.invalid failed)'],
    ['noRoute', 'unreachable', 'no route to the BMC (ipmitool: Could not open socket!)'],
    // The session worked; the command did not. The cause is the last line, after ipmitool's start-up probing.
    ['solInfoNoSol', 'other', "ipmitool failed (ipmitool: Error requesting SOL parameter 'Set In Progress (0)': Invalid command)"],
  ] as const)('%s → %s', (name, kind, reason) => {
    const c = captures[name];
    expect(c.code).not.toBe(0);
    const f = classifyIpmitoolFailure(c.stdout, c.stderr);
    expect(f.kind).toBe(kind);
    expect(f.reason).toContain(reason);
  });

  it('tells the two silences apart from refusals by output, not by time', () => {
    // Both took ~2 s; a wrong password took ~30 ms; the output alone must decide.
    expect(captures.simulatorStopped.ms).toBeGreaterThan(1900);
    expect(captures.wrongPassword.ms).toBeLessThan(500);
  });
});

describe('classifyIpmitoolFailure on messages from the ipmitool 1.8.19 binary that ipmi_sim does not produce', () => {
  it.each([
    ['Error in open session response message : insufficient resources for session\n', 'other'],
    ['Error in open session response message : no matching cipher suite\n', 'auth'],
    ['RAKP 4 message indicates an error : invalid integrity check value\n', 'auth'],
    ['> RAKP 4 message has invalid integrity check value\n', 'auth'],
    ['Set Session Privilege Level to ADMINISTRATOR failed: Requested privilege level exceeds limit\n', 'auth'],
    ['> Error: no response from RAKP 1 message\n', 'timeout'],
    ['> Error: no response from RAKP 3 message\n', 'timeout'],
    ['Timeout in open session response message.\n', 'timeout'],
    ['Interface address lookup for eth9 failed\n', 'other'],
    // With a completion code the BMC did answer: not a timeout.
    ['Get Auth Capabilities error: Invalid data field in request\nError issuing Get Channel Authentication Capabilities request\n', 'other'],
  ] as const)('%j → %s', (line, kind) => {
    expect(classifyIpmitoolFailure('', `Loading IANA PEN Registry...\n${line}${FAILED}`).kind).toBe(kind);
  });

  it('quotes something useful for output it has never seen, and copes with none', () => {
    expect(classifyIpmitoolFailure('', `Something new\n\n${FAILED}`)).toEqual({ kind: 'other', reason: 'ipmitool failed (ipmitool: Something new)' });
    expect(classifyIpmitoolFailure('', FAILED).reason).toContain('Unable to establish');
    expect(classifyIpmitoolFailure('', '')).toEqual({ kind: 'other', reason: 'ipmitool failed (ipmitool: no output)' });
  });
});
