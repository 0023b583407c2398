import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/**
 * The OpenSSH server of a Linux "switch" in a network namespace, shared by
 * the lab (`cordon-lab-sw`) and the system tests (test/helpers/sshd.ts): one
 * configuration, so what the tests prove about the switch driver is what the
 * lab runs.
 */

/** Where `sshd` is, or '' when Debian's openssh-server is not installed. */
export function sshdPath(): string {
  return spawnSync('sh', ['-c', 'command -v sshd'], { encoding: 'utf8' }).stdout.trim();
}

/** sshd's privilege-separation chroot: the Debian package only creates it when its service starts. */
export function ensurePrivsepDir(): void {
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
}

/** A fresh ed25519 key pair without a passphrase (OpenSSH format, as the controller's switch key). */
export function makeSshKey(file: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A public key's fingerprint as `ssh-keygen -lf` prints it (SHA256:…): what a switch inventory pins. */
export function sshFingerprint(publicKeyFile: string): string {
  return execFileSync('ssh-keygen', ['-lf', publicKeyFile], { encoding: 'utf8' }).split(' ')[1] ?? '';
}

export interface SwitchSshdOptions {
  address: string;
  port: number;
  hostKeyFile: string;
  authorizedKeysFile: string;
  pidFile: string;
  /** The one account that may log in (the controller's). */
  user: string;
  /** Extra lines (e.g. `ForceCommand …`). */
  extra?: string[] | undefined;
}

/**
 * sshd_config for a switch's management plane: public-key login only (no
 * password, no keyboard-interactive, no PAM), one allowed user, root only by
 * key. Sessions run as that user inside sshd's namespace, so `ip link set
 * dev swpN down` over SSH shuts the bridge port, as on a Cumulus switch.
 */
export function switchSshdConfig(o: SwitchSshdOptions): string {
  return [
    `ListenAddress ${o.address}:${o.port}`,
    `HostKey ${o.hostKeyFile}`,
    `AuthorizedKeysFile ${o.authorizedKeysFile}`,
    `PidFile ${o.pidFile}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // Temporary folders and their keys are not root-owned 0700 all the way up.
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    `AllowUsers ${o.user}`,
    'PrintMotd no',
    'LogLevel INFO',
    ...(o.extra ?? []),
    '',
  ].join('\n');
}
