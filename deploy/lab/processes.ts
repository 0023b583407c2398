import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Starts a long-running lab process inside a namespace, detached from the
 * caller (so `lab up` can return and leave the lab running), its output in
 * `logDir/<name>.log`. `ip netns exec` execs the program, so the pid is the
 * program's. Returns the pid.
 */
export function startInNamespace(ns: string, name: string, logDir: string, command: string, args: string[]): number {
  const fd = openSync(join(logDir, `${name}.log`), 'a', 0o600);
  try {
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Runs a command inside a namespace and returns its stdout; throws with its stderr. */
export function runInNamespace(ns: string, command: string, args: string[], timeoutMs = 15_000): string {
  try {
    return execFileSync('ip', ['netns', 'exec', ns, command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} in ${ns}: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

/** Whether `ss` in the namespace shows a listener on port (tcp or udp), on `address` when given. */
export function isListening(ns: string, proto: 'tcp' | 'udp', port: number, address?: string): boolean {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'ss', '-Hln', proto === 'tcp' ? '-t' : '-u'], { encoding: 'utf8' });
  // Local address is the 4th column: 10.70.0.101:623, *:80, [::]:25.
  return (r.stdout ?? '')
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[3] ?? '')
    .some((local) => local.endsWith(`:${port}`) && (address === undefined || local === `${address}:${port}`));
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every 100 ms until it yields a value or `ms` passes. */
export async function poll<T>(check: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await (async () => check())().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) return undefined;
    await sleep(100);
  }
}

export async function waitListening(ns: string, proto: 'tcp' | 'udp', port: number, what: string, pid: number, ms = 10_000, address?: string): Promise<void> {
  const ok = await poll(() => (alive(pid) && isListening(ns, proto, port, address) ? true : undefined), ms);
  if (!ok) throw new Error(`${what} did not start listening on ${proto} port ${port} in ${ns}${alive(pid) ? '' : ' (it exited; see its log)'}`);
}

/**
 * Whether `pid` runs and is not a zombie. A killed child stays a zombie
 * until reaped, and a process we did not start (PostgreSQL's postmaster,
 * detached by pg_ctl) may never be reaped where init does not reap
 * orphans; kill(pid, 0) finds both.
 */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) S ...: the state follows the last ')', as comm may hold one.
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process inside a namespace (`ip netns pids`). */
export function namespacePids(ns: string): number[] {
  const out = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 1);
}

/** SIGTERM to every pid, SIGKILL to those still alive after `graceMs`. */
export async function stopPids(pids: number[], graceMs = 3_000): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone in between
    }
  }
}
