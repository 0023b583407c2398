import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startInNamespace, waitListening } from './processes.js';
import { ensurePrivsepDir, makeSshKey, sshdPath, sshFingerprint, switchSshdConfig } from './switchSshd.js';
import type { LabTopology } from './topology.js';

/** The lab's access switch as the controller's inventory knows it. */
export interface LabSwitch {
  switchId: string;
  address: string;
  port: number;
  user: string;
  /** The controller's key, which the switch's sshd authorises (and nothing else). */
  privateKeyFile: string;
  /** The switch's host key, pinned in the inventory. */
  hostKeySha256: string;
  /** The ports no host may be given: the uplink to the internet and the switch's own management port. */
  protectedPorts: string[];
}

/**
 * Starts `cordon-lab-sw`'s management plane: Debian's OpenSSH server inside
 * the switch namespace on its management address, key authentication only,
 * a host key made for this lab (pinned in the inventory, as an operator pins
 * a real switch's from its console) and one authorised key, the
 * controller's. The controller's Linux vendor profile then shuts and opens a
 * server's bridge port (`ip link set dev swpN down|up`) over it. Keys live
 * in `<lab>/switch` (tmpfs, removed with the lab).
 */
export async function startLabSwitch(dir: string, t: LabTopology): Promise<LabSwitch> {
  const sshd = sshdPath();
  if (!sshd) throw new Error('sshd is not installed: apt-get install -y openssh-server');
  ensurePrivsepDir();
  const swDir = join(dir, 'switch');
  mkdirSync(swDir, { recursive: true, mode: 0o700 });
  const hostKey = join(swDir, 'ssh_host_ed25519_key');
  const clientKey = join(swDir, 'controller_ed25519');
  makeSshKey(hostKey, 'cordon-lab-sw');
  makeSshKey(clientKey, 'cordon-controller@lab');
  const authorized = join(swDir, 'authorized_keys');
  copyFileSync(`${clientKey}.pub`, authorized);
  // The lab runs as root; a real switch would have a dedicated account allowed only `ip link`.
  const user = 'root';
  const port = 22;
  const config = join(swDir, 'sshd_config');
  writeFileSync(config, switchSshdConfig({ address: t.switch4, port, hostKeyFile: hostKey, authorizedKeysFile: authorized, pidFile: join(swDir, 'sshd.pid'), user }));
  const pid = startInNamespace(t.switchNs, 'switch-sshd', join(dir, 'logs'), sshd, ['-D', '-e', '-f', config]);
  await waitListening(t.switchNs, 'tcp', port, "the switch's sshd", pid, 10_000, t.switch4);
  return {
    switchId: 'cordon-lab-sw',
    address: t.switch4,
    port,
    user,
    privateKeyFile: clientKey,
    hostKeySha256: sshFingerprint(`${hostKey}.pub`),
    protectedPorts: ['up0', 'eth0'],
  };
}

/** The inventory's `switchPorts`: each server's bridge port on the lab switch. */
export function labSwitchPorts(t: LabTopology, sw: LabSwitch): object[] {
  return t.hosts.map((h) => ({ hostId: h.id, ...sw, vendor: 'linux', hostPort: h.switchPort }));
}
