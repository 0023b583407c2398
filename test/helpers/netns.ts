import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DIST, REPO_ROOT } from './paths.js';

/** The lab's probe (built), so tests and the demo judge a connection attempt the same way. */
const PROBE = join(DIST, 'deploy/lab/servers/probe.js');

const PREFIX = 'cdt';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function inNs(ns: string, command: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts TCP listeners (test/helpers/bin/tcp-listen.mjs) in a namespace; resolves once they listen. The caller stops it. */
export async function startListener(ns: string, ports: number[]): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, join(REPO_ROOT, 'test/helpers/bin/tcp-listen.mjs'), ...ports.map(String)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`listeners on ${ports.join(',')} in ${ns} did not start`)), 5_000);
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`listener exited with ${code}`)));
  });
  return child;
}

/** Removes namespaces left by test runs whose process is gone (a crash, a kill -9). */
export function removeStaleNamespaces(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}-(\\d+)-`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive || pid === process.pid) spawnSync('ip', ['netns', 'del', name]);
  }
}

/**
 * A dedicated server and its surroundings, in three network namespaces:
 *
 *   internet (inet0 203.0.113.1/24, 2001:db8:1::1/64)
 *       |  veth
 *   host  pub0 203.0.113.10/24, 2001:db8:1::10/64   (public)
 *         mgmt0 10.255.0.10/16, fd00:ff::10/64       (management)
 *       |  veth
 *   mgmt (m0 10.255.0.1/16, fd00:ff::1/64)            (controller, BMCs)
 *
 * Addresses exist only inside these namespaces. `destroy()` kills every
 * process the lab started and deletes the namespaces; stale ones from a
 * crashed run are removed on the next create.
 */
export class NetLab {
  readonly host: string;
  readonly internet: string;
  readonly mgmt: string;
  readonly addr = {
    hostPub4: '203.0.113.10',
    hostPub6: '2001:db8:1::10',
    inet4: '203.0.113.1',
    inet6: '2001:db8:1::1',
    hostMgmt4: '10.255.0.10',
    hostMgmt6: 'fd00:ff::10',
    mgmt4: '10.255.0.1',
    mgmt6: 'fd00:ff::1',
    mgmtNet4: '10.255.0.0/16',
    mgmtNet6: 'fd00:ff::/64',
  };
  private readonly children: ChildProcess[] = [];
  private readonly extra: string[] = [];

  private constructor(tag: string) {
    const base = `${PREFIX}-${process.pid}-${tag}`;
    this.host = `${base}-h`;
    this.internet = `${base}-i`;
    this.mgmt = `${base}-m`;
  }

  static create(tag = 'lab'): NetLab {
    removeStaleNamespaces();
    const lab = new NetLab(tag);
    try {
      lab.build();
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return lab;
  }

  private build(): void {
    const a = this.addr;
    for (const ns of [this.host, this.internet, this.mgmt]) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      // No DAD delay: IPv6 addresses must be usable at once.
      inNs(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0');
    }
    ip('-n', this.host, 'link', 'add', 'pub0', 'type', 'veth', 'peer', 'name', 'inet0', 'netns', this.internet);
    ip('-n', this.host, 'link', 'add', 'mgmt0', 'type', 'veth', 'peer', 'name', 'm0', 'netns', this.mgmt);
    const addrs: [string, string, string][] = [
      [this.host, 'pub0', `${a.hostPub4}/24`],
      [this.host, 'pub0', `${a.hostPub6}/64`],
      [this.host, 'mgmt0', `${a.hostMgmt4}/16`],
      [this.host, 'mgmt0', `${a.hostMgmt6}/64`],
      [this.internet, 'inet0', `${a.inet4}/24`],
      [this.internet, 'inet0', `${a.inet6}/64`],
      [this.mgmt, 'm0', `${a.mgmt4}/16`],
      [this.mgmt, 'm0', `${a.mgmt6}/64`],
    ];
    for (const [ns, dev, cidr] of addrs) ip('-n', ns, 'addr', 'add', cidr, 'dev', dev, 'nodad');
    for (const [ns, dev] of [[this.host, 'pub0'], [this.host, 'mgmt0'], [this.internet, 'inet0'], [this.mgmt, 'm0']] as const) {
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
  }

  /**
   * A container (or VM) on the host: a fourth namespace behind a veth, with
   * 10.99.0.2/24 routed through the host, whose traffic the host forwards to
   * the internet. Returns the namespace.
   */
  addContainer(): string {
    const ns = this.host.replace(/-h$/, '-c');
    ip('netns', 'add', ns);
    this.extra.push(ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', this.host, 'link', 'add', 'ctr0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('-n', this.host, 'addr', 'add', '10.99.0.1/24', 'dev', 'ctr0');
    ip('-n', ns, 'addr', 'add', '10.99.0.2/24', 'dev', 'eth0');
    ip('-n', this.host, 'link', 'set', 'ctr0', 'up');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'route', 'add', 'default', 'via', '10.99.0.1');
    inNs(this.host, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    ip('-n', this.internet, 'route', 'add', '10.99.0.0/24', 'via', this.addr.hostPub4);
    return ns;
  }

  /** Starts TCP listeners in a namespace on the given ports; resolves once they listen. */
  async listen(ns: string, ports: number[]): Promise<ChildProcess> {
    return this.track(await startListener(ns, ports));
  }

  /** One TCP connect attempt from a namespace: connected, refused, unreachable or timeout. */
  probe(ns: string, host: string, port: number, timeoutMs = 1_500): string {
    return inNs(ns, process.execPath, PROBE, host, String(port), String(timeoutMs)).trim();
  }

  /** Tracks a process started by a test so destroy() stops it. */
  track(child: ChildProcess): ChildProcess {
    this.children.push(child);
    return child;
  }

  destroy(): void {
    for (const child of this.children) {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    for (const ns of [this.host, this.internet, this.mgmt, ...this.extra]) spawnSync('ip', ['netns', 'del', ns]);
  }
}
