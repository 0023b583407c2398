// Network namespaces for the benchmarks, built with plain `ip` commands (the
// TypeScript helpers in test/helpers are not built to dist/). Names start with
// `cbench-<pid>-`; namespaces of a bench whose process is gone are removed on
// the next create. Addresses exist only inside these namespaces.
import { execFileSync, spawnSync } from 'node:child_process';

export const PREFIX = 'cbench';

export function ip(...args) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Runs a command inside a namespace and returns its stdout. */
export function inNs(ns, command, ...args) {
  return execFileSync('ip', ['netns', 'exec', ns, command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

/** Removes cbench-<pid>-* namespaces whose bench process no longer runs. */
export function removeStaleNamespaces() {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}-(\\d+)-`).exec(name);
    if (!m) continue;
    let alive = true;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      alive = false;
    }
    if (!alive) spawnSync('ip', ['netns', 'del', name]);
  }
}

/**
 * The NetLab layout of test/helpers/netns.ts, IPv4 only:
 *   internet  inet0 203.0.113.1/24
 *     | veth
 *   host      pub0 203.0.113.10/24 (public), mgmt0 10.255.0.10/16 (management)
 *     | veth
 *   mgmt      m0 10.255.0.1/16 (controller)
 * Returns the names, the addresses and destroy() (idempotent).
 */
export function createLab(tag = 'lab') {
  removeStaleNamespaces();
  const base = `${PREFIX}-${process.pid}-${tag}`;
  const lab = {
    host: `${base}-h`,
    internet: `${base}-i`,
    mgmt: `${base}-m`,
    addr: { hostPub: '203.0.113.10', inet: '203.0.113.1', hostMgmt: '10.255.0.10', mgmt: '10.255.0.1', mgmtNet: '10.255.0.0/16' },
    destroy() {
      for (const ns of [lab.host, lab.internet, lab.mgmt]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    },
  };
  try {
    for (const ns of [lab.host, lab.internet, lab.mgmt]) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip('-n', lab.host, 'link', 'add', 'pub0', 'type', 'veth', 'peer', 'name', 'inet0', 'netns', lab.internet);
    ip('-n', lab.host, 'link', 'add', 'mgmt0', 'type', 'veth', 'peer', 'name', 'm0', 'netns', lab.mgmt);
    ip('-n', lab.host, 'addr', 'add', `${lab.addr.hostPub}/24`, 'dev', 'pub0');
    ip('-n', lab.host, 'addr', 'add', `${lab.addr.hostMgmt}/16`, 'dev', 'mgmt0');
    ip('-n', lab.internet, 'addr', 'add', `${lab.addr.inet}/24`, 'dev', 'inet0');
    ip('-n', lab.mgmt, 'addr', 'add', `${lab.addr.mgmt}/16`, 'dev', 'm0');
    for (const [ns, dev] of [[lab.host, 'pub0'], [lab.host, 'mgmt0'], [lab.internet, 'inet0'], [lab.mgmt, 'm0']]) ip('-n', ns, 'link', 'set', dev, 'up');
  } catch (err) {
    lab.destroy();
    throw err;
  }
  return lab;
}
