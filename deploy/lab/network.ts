import { execFileSync, spawnSync } from 'node:child_process';
import { LAB_PREFIX, labNamespaces, type LabTopology } from './topology.js';

function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`ip ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

function sysctl(ns: string, ...settings: string[]): void {
  ip('netns', 'exec', ns, 'sysctl', '-qw', ...settings);
}

/**
 * Builds the lab's namespaces, links and addresses. Throws on the first
 * failure; the caller tears down what exists (removeLabNetwork).
 */
export function buildLabNetwork(t: LabTopology): void {
  for (const ns of labNamespaces(t)) {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    // No duplicate-address detection: IPv6 addresses are usable at once.
    sysctl(ns, 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0');
  }
  // The management bridge: the controller, the mail receiver and the BMCs live here.
  ip('-n', t.mgmtNs, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', t.mgmtNs, 'addr', 'add', `${t.controller4}/24`, 'dev', 'br0');
  for (const h of t.hosts) ip('-n', t.mgmtNs, 'addr', 'add', `${h.bmc4}/32`, 'dev', 'br0');
  ip('-n', t.mgmtNs, 'link', 'set', 'br0', 'up');
  // The access switch: one port per server, one uplink to the internet.
  ip('-n', t.switchNs, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', t.switchNs, 'link', 'set', 'br0', 'up');
  ip('-n', t.switchNs, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'inet0', 'netns', t.inetNs);
  ip('-n', t.switchNs, 'link', 'set', 'up0', 'master', 'br0', 'up');
  ip('-n', t.inetNs, 'addr', 'add', `${t.inet4}/24`, 'dev', 'inet0');
  ip('-n', t.inetNs, 'addr', 'add', `${t.inet6}/64`, 'dev', 'inet0', 'nodad');
  ip('-n', t.inetNs, 'link', 'set', 'inet0', 'up');
  // The switch's management port (not in its bridge): where the controller reaches its sshd.
  ip('-n', t.switchNs, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', t.switchMgmtPort, 'netns', t.mgmtNs);
  ip('-n', t.mgmtNs, 'link', 'set', t.switchMgmtPort, 'master', 'br0', 'up');
  ip('-n', t.switchNs, 'addr', 'add', `${t.switch4}/24`, 'dev', 'eth0');
  ip('-n', t.switchNs, 'link', 'set', 'eth0', 'up');
  for (const h of t.hosts) {
    ip('-n', h.ns, 'link', 'add', 'pub0', 'type', 'veth', 'peer', 'name', h.switchPort, 'netns', t.switchNs);
    ip('-n', t.switchNs, 'link', 'set', h.switchPort, 'master', 'br0', 'up');
    ip('-n', h.ns, 'addr', 'add', `${h.pub4}/24`, 'dev', 'pub0');
    ip('-n', h.ns, 'addr', 'add', `${h.pub6}/64`, 'dev', 'pub0', 'nodad');
    ip('-n', h.ns, 'link', 'set', 'pub0', 'up');
    ip('-n', h.ns, 'route', 'add', 'default', 'via', t.inet4);
    ip('-n', h.ns, 'link', 'add', 'mgmt0', 'type', 'veth', 'peer', 'name', h.mgmtPort, 'netns', t.mgmtNs);
    ip('-n', t.mgmtNs, 'link', 'set', h.mgmtPort, 'master', 'br0', 'up');
    ip('-n', h.ns, 'addr', 'add', `${h.mgmt4}/24`, 'dev', 'mgmt0');
    ip('-n', h.ns, 'link', 'set', 'mgmt0', 'up');
  }
}

/** The lab's namespaces that exist now (also those of a crashed earlier run). */
export function existingLabNamespaces(): string[] {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  return list
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(`${LAB_PREFIX}-`));
}

/** Deletes every lab namespace (their links and addresses go with them). Idempotent. */
export function removeLabNetwork(): string[] {
  const gone = existingLabNamespaces();
  for (const ns of gone) spawnSync('ip', ['netns', 'del', ns]);
  return gone;
}
