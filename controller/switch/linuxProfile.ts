import type { ExecProfile } from './VendorProfile.js';

/**
 * Linux switches (Cumulus Linux, SONiC, a plain Linux bridge): front-panel
 * ports are netdevs (`swp1`, `Ethernet4`), changed with iproute2. Each command
 * runs in its own exec channel, so a failure is its exit status and stderr;
 * the port name was validated against PORT_NAME_PATTERN, so it is safe to
 * put in the remote shell's command line as is.
 *
 * `ip link set … down` takes effect immediately and is not persisted in
 * `/etc/network/interfaces`: a switch reboot reopens the port, which the
 * controller notices on its next read-back and repeats.
 */
export const linuxProfile: ExecProfile = {
  vendor: 'linux',
  transport: 'exec',
  setSteps: (port, up) => [{ command: `ip link set dev ${port} ${up ? 'up' : 'down'}` }],
  readStep: (port) => ({ command: `ip -j link show dev ${port}` }),
  parseAdminUp: (port, output) => parseIpLinkJson(port, output),
};

/** Admin state from `ip -j link show dev PORT`: the `UP` flag is IFF_UP, the administrative bit. */
export function parseIpLinkJson(port: string, output: string): boolean | undefined {
  let links: unknown;
  try {
    links = JSON.parse(output);
  } catch {
    return undefined;
  }
  if (!Array.isArray(links)) return undefined;
  for (const link of links as unknown[]) {
    if (typeof link !== 'object' || link === null) continue;
    const { ifname, flags } = link as { ifname?: unknown; flags?: unknown };
    if (ifname !== port || !Array.isArray(flags)) continue;
    return flags.includes('UP');
  }
  return undefined;
}
