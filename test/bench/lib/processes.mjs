// Long-running processes of a benchmark inside its namespaces, registered
// with its benchScope so they are killed whichever way the bench ends.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns a truthy value (returned); throws after `timeoutMs`. */
export async function until(what, check, timeoutMs, everyMs = 5) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Starts `command args` inside namespace `ns` (cwd `cwd`), its stdout and
 * stderr kept and written to `log` when it exits or the bench cleans up;
 * `child.output()` is what it said so far.
 */
export function startIn(scope, ns, command, args, { log, cwd, env } = {}) {
  const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['pipe', 'pipe', 'pipe'], cwd, env });
  scope.children.add(child);
  const chunks = [];
  child.stdout.on('data', (d) => chunks.push(d));
  child.stderr.on('data', (d) => chunks.push(d));
  const flush = () => {
    if (!log) return;
    try {
      writeFileSync(log, Buffer.concat(chunks));
    } catch {}
  };
  scope.logFlushers.push(flush);
  child.on('exit', () => {
    scope.children.delete(child);
    flush();
  });
  child.output = () => Buffer.concat(chunks).toString();
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(child, graceMs = 5_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  if ((await Promise.race([exited.then(() => 'exited'), sleep(graceMs)])) !== 'exited') child.kill('SIGKILL');
  await exited;
}
