import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { removeStaleNamespaces } from './netns.js';
import { DIST } from './paths.js';

/** The lab's probe (built), so tests and the demo judge a connection attempt the same way. */
const PROBE = join(DIST, 'deploy/lab/servers/probe.js');
import { waitFor } from './waitFor.js';

/**
 * A server behind a real (Linux bridge) access switch, all in namespaces:
 *
 *   host  pub0 203.0.113.10/24 ─veth─ swp1 ┐
 *                                          br0   switch (sshd on eth0 10.250.1.2:22)
 *   internet inet0 203.0.113.1/24 ─veth─ swp2 ┘
 *   host  mgmt0 10.250.0.10/24 ─veth─ m0 10.250.0.1/24 ┐ mgmt
 *   switch eth0 10.250.1.2/24 ─veth─ m1 10.250.1.1/24 ┘
 *
 * sshd (test/helpers/sshd.ts) runs inside the switch namespace, so
 * `ip link set dev swp1 down` sent over SSH shuts the bridge port, as on a
 * Cumulus switch. Addresses exist only inside these namespaces.
 */
export class SwitchLab {
  readonly ns: { host: string; sw: string; inet: string; mgmt: string };
  static readonly SWITCH_MGMT = '10.250.1.2';

  constructor(tag = 'sw') {
    const base = `cdt-${process.pid}-${tag}`;
    this.ns = { host: `${base}-h`, sw: `${base}-s`, inet: `${base}-i`, mgmt: `${base}-m` };
  }

  build(): void {
    removeStaleNamespaces();
    const { ns } = this;
    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    for (const n of Object.values(ns)) {
      ip('netns', 'add', n);
      ip('-n', n, 'link', 'set', 'lo', 'up');
    }
    ip('-n', ns.host, 'link', 'add', 'pub0', 'type', 'veth', 'peer', 'name', 'swp1', 'netns', ns.sw);
    ip('-n', ns.inet, 'link', 'add', 'inet0', 'type', 'veth', 'peer', 'name', 'swp2', 'netns', ns.sw);
    ip('-n', ns.host, 'link', 'add', 'mgmt0', 'type', 'veth', 'peer', 'name', 'm0', 'netns', ns.mgmt);
    ip('-n', ns.sw, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'm1', 'netns', ns.mgmt);
    ip('-n', ns.sw, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0');
    for (const p of ['swp1', 'swp2']) ip('-n', ns.sw, 'link', 'set', p, 'master', 'br0');
    const addrs: [string, string, string][] = [
      [ns.host, 'pub0', '203.0.113.10/24'],
      [ns.inet, 'inet0', '203.0.113.1/24'],
      [ns.host, 'mgmt0', '10.250.0.10/24'],
      [ns.mgmt, 'm0', '10.250.0.1/24'],
      [ns.sw, 'eth0', `${SwitchLab.SWITCH_MGMT}/24`],
      [ns.mgmt, 'm1', '10.250.1.1/24'],
    ];
    for (const [n, dev, cidr] of addrs) ip('-n', n, 'addr', 'add', cidr, 'dev', dev);
    const up: [string, string][] = [[ns.host, 'pub0'], [ns.host, 'mgmt0'], [ns.inet, 'inet0'], [ns.mgmt, 'm0'], [ns.mgmt, 'm1'], [ns.sw, 'eth0'], [ns.sw, 'br0'], [ns.sw, 'swp1'], [ns.sw, 'swp2']];
    for (const [n, dev] of up) ip('-n', n, 'link', 'set', dev, 'up');
  }

  inNs(n: string, ...cmd: string[]): string {
    return execFileSync('ip', ['netns', 'exec', n, ...cmd], { encoding: 'utf8' });
  }

  probe(from: string, host: string, port: number): string {
    return this.inNs(from, process.execPath, PROBE, host, String(port), '800').trim();
  }

  /**
   * Probes until the answer is `want` or `ms` passes; returns the last
   * answer. A port that comes back up forwards at once, but the host may
   * still hold a FAILED neighbour entry for the far side from while it was
   * cut (connects fail with EHOSTUNREACH until the kernel retries it).
   */
  async probeUntil(from: string, host: string, port: number, want: string, ms = 5_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = this.probe(from, host, port);
      if (got === want || Date.now() > deadline) return got;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** What the switch's kernel says about a port, read without any driver. */
  kernelLink(port: string): { flags: string[]; operstate: string } {
    return (JSON.parse(this.inNs(this.ns.sw, 'ip', '-j', 'link', 'show', 'dev', port)) as { flags: string[]; operstate: string }[])[0]!;
  }

  kernelAdminUp(port: string): boolean {
    return this.kernelLink(port).flags.includes('UP');
  }

  /** Carrier reaches a veth's peer through linkwatch, up to a second late: wait for it before probing. */
  bridgePortsUp(): Promise<boolean> {
    return waitFor('switch ports with carrier', () => ['swp1', 'swp2'].every((p) => this.kernelLink(p).operstate === 'UP'), 5_000, 50);
  }

  destroy(): void {
    for (const n of Object.values(this.ns)) spawnSync('ip', ['netns', 'del', n]);
  }
}
