import { CordonError } from '../../proto/runtime/CordonError.js';
import type { BmcTarget } from './BmcDriver.js';
import type { IpmitoolConfig } from './IpmitoolConfig.js';

/** The standard IPMI-over-LAN port. */
export const IPMI_PORT = 623;

/** The ipmitool commands the driver runs; nothing else can be built. */
export type IpmitoolCommand = ['mc', 'info'] | ['chassis', 'status'] | ['sol', 'info', '1'];

/**
 * The argv (without the binary) for one ipmitool command against one BMC.
 * The password is referenced as `-f FILE` only: argv is visible to every
 * local user in /proc and ps, so `-P` is never used. `-v` is always on
 * because only then does ipmitool tell a wrong password from a silent BMC
 * (see classifyIpmitoolFailure). Throws CordonError `invalid` for a target
 * that would not make a sound command line.
 */
export function buildIpmitoolArgs(target: BmcTarget, cfg: IpmitoolConfig, command: IpmitoolCommand): string[] {
  checkBmcTarget(target);
  return [
    '-I', 'lanplus',
    '-H', target.address,
    '-p', String(target.port ?? IPMI_PORT),
    '-U', target.user,
    '-f', target.passwordFile,
    '-C', String(target.cipherSuite ?? cfg.cipherSuite),
    '-L', cfg.privilege,
    '-N', String(cfg.timeoutSeconds),
    '-R', String(cfg.retries),
    '-v',
    ...command,
  ];
}

/** Pacing key: two targets at the same address and port are one BMC, whatever host ids say. */
export function bmcKey(target: BmcTarget): string {
  return `${target.address}:${target.port ?? IPMI_PORT}`;
}

/** Throws CordonError `invalid`, naming the field, for a target that would not make a sound command line. */
export function checkBmcTarget(t: BmcTarget): void {
  const bad = (field: string, why: string) => new CordonError('invalid', `${why} (host ${t.hostId})`, { field });
  // A leading '-' would read as an option to ipmitool; whitespace never belongs in these.
  if (!/^[^\s-]\S*$/.test(t.address)) throw bad('address', 'must be an address or host name');
  if (t.port !== undefined && (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535)) throw bad('port', 'must be 1 to 65535');
  // IPMI user names are at most 16 bytes.
  if (t.user === '' || Buffer.byteLength(t.user) > 16 || /[\0\n]/.test(t.user)) throw bad('user', 'must be 1 to 16 bytes');
  if (t.passwordFile.trim() === '' || t.passwordFile.includes('\0')) throw bad('passwordFile', 'must be a file path');
  if (t.cipherSuite !== undefined && (!Number.isInteger(t.cipherSuite) || t.cipherSuite < 0 || t.cipherSuite > 17)) {
    throw bad('cipherSuite', 'must be 0 to 17');
  }
}
