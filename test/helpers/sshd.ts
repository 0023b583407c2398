import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { ensurePrivsepDir, makeSshKey, sshdPath, sshFingerprint, switchSshdConfig } from '../../deploy/lab/switchSshd.js';

/** A running OpenSSH server for tests, with the material a client needs to reach it. */
export interface Sshd {
  address: string;
  port: number;
  user: string;
  /** The server's host key as `ssh-keygen -lf` prints it: what a switch inventory pins. */
  hostKeySha256: string;
  /** A client key the server accepts (OpenSSH format, no passphrase). */
  clientKeyFile: string;
  /** A second client key the server does not accept. */
  strangerKeyFile: string;
  /** What sshd wrote to stderr so far (`-e`), for failure messages. */
  log(): string;
  /** Stops sshd and every process it started, removes its files. Idempotent. */
  stop(): void;
}

export interface SshdOptions {
  /** Run inside this network namespace (as root); commands of its sessions then run there too. */
  netns?: string;
  /** Default 127.0.0.1. */
  listenAddress?: string;
  /** Default: 22 inside a namespace, a free port on the loopback otherwise. */
  port?: number;
  /** Extra sshd_config lines (e.g. `ForceCommand …`). */
  extraConfig?: string[];
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Every process below `pid` (sshd's per-connection children and their shells), deepest last. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parents.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * Starts a real `sshd -D -e` with a fresh ed25519 host key and client key in a
 * temporary folder: public-key login only, no PAM, no password. In a network
 * namespace it listens on that namespace's address and its sessions run
 * there as root, which is how a "Linux switch" namespace changes its ports.
 * Resolves once sshd says it listens; on any failure it cleans up and throws
 * with sshd's own output.
 */
export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const sshd = sshdPath();
  if (!sshd) throw new Error('sshd is not installed (apt-get install -y openssh-server)');
  ensurePrivsepDir();
  const dir = mkdtempSync(join(tmpdir(), 'cordon-sshd-'));
  let child: ChildProcess | undefined;
  let stderr = '';
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', stop);
    if (child?.pid !== undefined && child.exitCode === null) {
      for (const pid of descendants(child.pid).reverse()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  try {
    const hostKey = join(dir, 'host_ed25519');
    const clientKey = join(dir, 'client_ed25519');
    const strangerKey = join(dir, 'stranger_ed25519');
    makeSshKey(hostKey, 'cordon-test-switch');
    makeSshKey(clientKey, 'cordon-controller');
    makeSshKey(strangerKey, 'someone-else');
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`));
    const hostKeySha256 = sshFingerprint(`${hostKey}.pub`);
    const address = opts.listenAddress ?? '127.0.0.1';
    const port = opts.port ?? (opts.netns ? 22 : await freePort(address));
    const user = userInfo().username;
    const configFile = join(dir, 'sshd_config');
    writeFileSync(
      configFile,
      switchSshdConfig({ address, port, hostKeyFile: hostKey, authorizedKeysFile: join(dir, 'authorized_keys'), pidFile: join(dir, 'sshd.pid'), user, extra: opts.extraConfig }),
    );
    const argv = [sshd, '-D', '-e', '-f', configFile];
    child = opts.netns ? spawn('ip', ['netns', 'exec', opts.netns, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    const started = child;
    started.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start within 5 s: ${stderr}`)), 5_000);
      const check = () => {
        if (!stderr.includes('Server listening on')) return;
        clearTimeout(timer);
        resolve();
      };
      started.stderr!.on('data', check);
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited with ${code}: ${stderr}`));
      });
    });
    return { address, port, user, hostKeySha256, clientKeyFile: clientKey, strangerKeyFile: strangerKey, log: () => stderr, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

/**
 * A `ProxyCommand` into a network namespace: a small node process inside
 * `netns` connects to HOST:PORT there and pipes the bytes through its
 * stdin/stdout. This lets the test process, which lives in the root
 * namespace, reach an address that exists only inside the lab. `close()`
 * kills the pipes still running.
 */
export class NamespaceDialer {
  private readonly children = new Set<ChildProcess>();

  constructor(private readonly netns: string) {}

  dial(host: string, port: number): Duplex {
    const script =
      "const s=require('net').connect(Number(process.argv[2]),process.argv[1]);" +
      'process.stdin.pipe(s);s.pipe(process.stdout);' +
      "s.on('error',e=>{process.stderr.write(String(e));process.exit(1)});s.on('close',()=>process.exit(0));";
    const child = spawn('ip', ['netns', 'exec', this.netns, process.execPath, '-e', script, host, String(port)], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return Duplex.from({ readable: child.stdout, writable: child.stdin });
  }

  close(): void {
    for (const child of this.children) child.kill('SIGKILL');
    this.children.clear();
  }
}
