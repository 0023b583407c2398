import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A daemon the demo started, with its log lines kept for inspection. */
export interface Daemon {
  name: string;
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

export function startDaemon(name: string, script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Daemon {
  const child = spawn(process.execPath, ['--disable-warning=DEP0123', script, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { name, child, lines, exited };
}

/** Sends SIGTERM and waits up to `ms` for the exit code; SIGKILL after that. */
export async function stopDaemon(d: Daemon, ms = 5_000): Promise<number | null> {
  if (d.child.exitCode !== null) return d.child.exitCode;
  d.child.kill('SIGTERM');
  const timer = setTimeout(() => d.child.kill('SIGKILL'), ms);
  const code = await d.exited;
  clearTimeout(timer);
  return code;
}

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` every 100 ms until it yields a value or `ms` passes. */
export async function poll<T>(check: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await (async () => check())().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
}
