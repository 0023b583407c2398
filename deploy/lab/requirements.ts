import { execFileSync, spawnSync } from 'node:child_process';

/** The commands the lab runs, and the Debian package each comes from. */
const TOOLS: Record<string, string> = {
  ip: 'iproute2',
  ss: 'iproute2',
  tc: 'iproute2',
  nft: 'nftables',
  openssl: 'openssl',
  sysctl: 'procps',
  ipmi_sim: 'openipmi',
  ipmitool: 'ipmitool',
  dnsmasq: 'dnsmasq-base',
  // The access switch's management plane (labSwitch.ts).
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
};

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes sure the lab can run (and `extra` tools: command → Debian package): root (namespaces, nft and tc need it), and the
 * Debian packages of every tool. As root on a machine with apt-get it
 * installs what is missing, saying so; otherwise it throws one line naming
 * the exact command to run.
 */
export function ensureLabRequirements(say: (line: string) => void, what = 'the lab', uid = process.getuid?.(), extra: Record<string, string> = {}): void {
  const tools = { ...TOOLS, ...extra };
  if (uid !== 0) {
    throw new Error(`${what} needs root: it builds network namespaces and enforces with nft and tc inside them; run it with sudo`);
  }
  const missing = [...new Set(Object.entries(tools).filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return;
  const cmd = `apt-get install -y ${missing.join(' ')}`;
  if (!has('apt-get')) throw new Error(`${what} needs the Debian packages ${missing.join(', ')} (or your system's equivalents): e.g. \`${cmd}\``);
  say(`installing missing Debian packages: ${cmd}`);
  execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${cmd}`], { stdio: 'inherit' });
  const still = Object.keys(tools).filter((c) => !has(c));
  if (still.length > 0) throw new Error(`still missing after ${cmd}: ${still.join(', ')}`);
}
