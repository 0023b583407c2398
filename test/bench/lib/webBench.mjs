// What the web benchmarks (customer-page.mjs, desk-pages.mjs) share: npm
// autocannon, a temporary folder removed at exit with the controller it ran,
// free loopback ports and the PKI made with the real cordon-pki.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** autocannon as a promise; exits 2 naming the missing devDependency. */
export async function loadAutocannon(bench) {
  let autocannon;
  try {
    autocannon = (await import('autocannon')).default;
  } catch {
    process.stderr.write(`${bench} bench needs npm autocannon (a devDependency): run npm install\n`);
    process.exit(2);
  }
  return (opts) => new Promise((res, rej) => autocannon(opts, (err, result) => (err ? rej(err) : res(result))));
}

/**
 * A temporary folder for one run. `owns(child)` registers the controller
 * process: at exit (also after a failure or Ctrl-C) it is killed and the
 * folder removed.
 */
export function benchWorkspace(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let child;
  process.on('exit', () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  process.on('SIGINT', () => process.exit(130));
  return { dir, owns: (c) => (child = c) };
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** The real cordon-pki on `pkiDir`: a CA and the controller's certificate for 127.0.0.1; returns the runner for more. */
export function benchPki(root, pkiDir) {
  const cordonPki = (...a) => execFileSync(join(root, 'deploy/pki/cordon-pki'), ['--dir', pkiDir, ...a], { stdio: ['ignore', 'ignore', 'pipe'] });
  cordonPki('init');
  cordonPki('issue-controller', 'controller.bench', '127.0.0.1');
  return cordonPki;
}
