import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BmcTarget } from '../../controller/bmc/BmcDriver.js';
import { IPMI_SIM_EMU, ipmiSimLanConf } from '../../deploy/lab/ipmiSimConfig.js';

export interface IpmiSimOptions {
  /** Add a `sol` line pointing at a TCP listener this helper runs, so `sol info` answers. */
  sol?: boolean;
  /** IPMI user name; `cordon`. The password is random per simulator. */
  user?: string;
}

/** Simulators still running, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/**
 * One OpenIPMI `ipmi_sim` BMC on 127.0.0.1 at a free UDP port, for one
 * simulated host: an admin user with a random password, lanplus with cipher
 * suite 3, state in a temp folder (`-s`), no console (`-n`). `stop()` kills
 * it and removes its files; call it in afterAll/finally, also after a failure.
 */
export class IpmiSim {
  readonly address = '127.0.0.1';
  private stopped = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly user: string,
    /** For asserting it never leaks; never pass it to the driver. */
    readonly password: string,
    readonly dir: string,
    private readonly solServer: Server | undefined,
    private readonly solSockets: Set<Socket>,
  ) {}

  /** Starts a simulator and resolves once it listens. Cleans up after itself if that fails. */
  static async start(opts: IpmiSimOptions = {}): Promise<IpmiSim> {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-ipmisim-'));
    const sockets = new Set<Socket>();
    let solServer: Server | undefined;
    try {
      const user = opts.user ?? 'cordon';
      // IPMI 2.0 passwords are at most 20 bytes; hex keeps the conf file free of quoting issues.
      const password = randomBytes(8).toString('hex');
      writeFileSync(join(dir, 'password'), password, { mode: 0o600 });
      if (opts.sol) solServer = await listenTcp(sockets);
      const solPort = solServer ? (solServer.address() as { port: number }).port : undefined;
      // A free port can be taken between our probe and ipmi_sim's bind; try again then.
      for (let tries = 1; ; tries++) {
        const port = await freeUdpPort();
        writeFileSync(join(dir, 'lan.conf'), ipmiSimLanConf({ name: `cordon-sim-${port}`, address: '127.0.0.1', port, user, password, solTcp: solPort ? `127.0.0.1:${solPort}` : undefined }), { mode: 0o600 });
        writeFileSync(join(dir, 'sim.emu'), IPMI_SIM_EMU);
        const child = spawn('ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'sim.emu'), '-s', dir, '-n'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        live.add(child);
        let output = '';
        child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
        child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
        const up = await waitListening(child, port);
        if (up) return new IpmiSim(child, port, user, password, dir, solServer, sockets);
        live.delete(child);
        child.kill('SIGKILL');
        if (tries >= 3) throw new Error(`ipmi_sim did not start on 127.0.0.1:${port}: ${output.trim() || 'no output'}`);
      }
    } catch (err) {
      closeTcp(solServer, sockets);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The password file ipmitool should read (`-f`). */
  get passwordFile(): string {
    return join(this.dir, 'password');
  }

  /** A target for this simulator; `overrides` replace any field. */
  target(overrides: Partial<BmcTarget> = {}): BmcTarget {
    return { hostId: `sim-${this.port}`, address: this.address, port: this.port, user: this.user, passwordFile: this.passwordFile, sol: false, ...overrides };
  }

  /** Writes another file in the simulator's folder (e.g. a wrong password) and returns its path. */
  writeFile(name: string, content: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  /** SIGSTOP: the simulator keeps its socket but answers nothing (a hung BMC). */
  pause(): void {
    this.child.kill('SIGSTOP');
  }

  resume(): void {
    this.child.kill('SIGCONT');
  }

  /** Kills the simulator (a dead BMC) but keeps its files, so the password file stays readable. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
    live.delete(this.child);
  }

  /** Kills the simulator, closes the SOL listener and removes every file. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.kill();
    } finally {
      closeTcp(this.solServer, this.solSockets);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Polls /proc/net/udp for the port (probing by binding would race ipmi_sim for it). */
async function waitListening(child: ChildProcess, port: number): Promise<boolean> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (readFileSync('/proc/net/udp', 'utf8').includes(` ${local} `)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** Stands in for the host's serial console: accepts ipmi_sim's connection and holds it. */
async function listenTcp(sockets: Set<Socket>): Promise<Server> {
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

function closeTcp(server: Server | undefined, sockets: Set<Socket>): void {
  for (const s of sockets) s.destroy();
  server?.close();
}
