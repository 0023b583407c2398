import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { freePort } from './freePort.js';

/** A real DNS server (dnsmasq) on the loopback, answering only the records a test gave it. */
export interface DnsServer {
  /** "127.0.0.1:PORT", for Resolver.setServers and intake.dnsServers. */
  address: string;
  port: number;
  /** What dnsmasq wrote so far, for failure messages. */
  log(): string;
  /** Stops dnsmasq (SIGTERM, then SIGKILL) and waits for it. Idempotent. */
  stop(): Promise<void>;
}

/** dnsmasq's path: on PATH, or in /usr/sbin, which a non-root PATH often lacks. */
function dnsmasqPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v dnsmasq || { test -x /usr/sbin/dnsmasq && echo /usr/sbin/dnsmasq; }'], { encoding: 'utf8' });
  return r.stdout.trim() || undefined;
}
const hasDnsmasq = (): boolean => dnsmasqPath() !== undefined;

/**
 * Whether the DNS tests can run, and if not, why. dnsmasq (Debian
 * dnsmasq-base, installed by .ci/run) needs no root on a high port. Missing
 * as non-root: skip, saying why. Missing as root (CI, where .ci/run installs
 * it): not skipped, so startDnsServer fails loudly instead of a silent gap.
 */
export function dnsServerGate(): { ok: boolean; reason: string } {
  if (hasDnsmasq() || process.getuid?.() === 0) return { ok: true, reason: '' };
  return { ok: false, reason: 'needs dnsmasq (apt-get install -y dnsmasq-base), and installing it needs root' };
}

/** More than one TXT record per name, A records, authoritative domains, and a fixed port. */
export interface DnsRecords {
  /** name → IPv4 addresses, one A record each (dnsmasq --host-record, which also answers their PTR). */
  a?: Record<string, string[]>;
  /** name → TXT records, one each (beside the first argument's one per name). */
  txt?: Record<string, string[]>;
  /**
   * Domains answered from these records alone (dnsmasq --local): a name under
   * one without records is NXDOMAIN, or NODATA if a longer name exists. Any
   * other unknown name is REFUSED (no upstream).
   */
  authoritative?: string[];
  /** Listen on this port (to restart a server where a client already points); default a free one. */
  port?: number;
}

/** dnsmasq's own name for readiness probes. */
const READY = 'ready.cordon.test';

/**
 * Starts `dnsmasq --no-daemon` on a free loopback port, answering nothing but
 * `txt` (name → record text) and `more` (no upstream, no /etc/hosts).
 * dnsmasq 2.90 splits a text longer than 255 bytes into 255-byte
 * character-strings, as DKIM keys need; a DNS client joins them. Resolves
 * once it answers; the caller must `stop()` it (afterAll), and it is killed
 * on process exit in any case.
 */
export async function startDnsServer(txt: Record<string, string>, more: DnsRecords = {}): Promise<DnsServer> {
  const binary = dnsmasqPath();
  if (!binary) throw new Error('dnsmasq is not installed (apt-get install -y dnsmasq-base; .ci/run installs it)');
  const records: [string, string][] = [...Object.entries(txt), [READY, 'ok']];
  for (const [name, values] of Object.entries(more.txt ?? {})) for (const v of values) records.push([name, v]);
  for (const [name, value] of records) {
    // dnsmasq splits --txt-record values at commas; quotes would be kept literally.
    if (/[,"]/.test(value)) throw new Error(`TXT record ${name}: commas and quotes are not supported by this helper`);
  }
  const hosts: string[] = [];
  for (const [name, addresses] of Object.entries(more.a ?? {})) {
    for (const address of addresses) {
      if (!isIPv4(address)) throw new Error(`A record ${name}: ${address} is not an IPv4 address`);
      hosts.push(`--host-record=${name},${address}`);
    }
  }
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = more.port ?? (await freePort());
    const args = [
      '--no-daemon',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--no-poll',
      '--pid-file=',
      '--log-facility=-',
      ...records.map(([name, value]) => `--txt-record=${name},${value}`),
      ...hosts,
      ...(more.authoritative ?? []).map((domain) => `--local=/${domain}/`),
    ];
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    const server = handle(child, port, () => output, kill);
    if (await answers(child, port)) return server;
    lastError = output.trim();
    await server.stop();
    // A fixed port just given up by the previous server may take a moment to free.
    if (more.port !== undefined) await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`dnsmasq did not start: ${lastError}`);
}

function handle(child: ChildProcess, port: number, log: () => string, onExitHook: () => void): DnsServer {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    address: `127.0.0.1:${port}`,
    port,
    log,
    async stop() {
      process.off('exit', onExitHook);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), 2_000);
        await exited;
        clearTimeout(force);
      }
    },
  };
}

/** Waits (up to 5 s) until dnsmasq answers the readiness name; false if it exited or never answered. */
async function answers(child: ChildProcess, port: number): Promise<boolean> {
  const resolver = new Resolver({ timeout: 250, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      const rows = await resolver.resolveTxt(READY);
      if (rows.some((r) => r.join('') === 'ok')) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
