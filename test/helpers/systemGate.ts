import { spawnSync } from 'node:child_process';

/**
 * Whether this machine can run the root, network-namespace system tests, and
 * if not, why. Tests use it with describe.skipIf and print the reason, so a
 * skip is never silent; CI runs as root with every package installed.
 */
export function systemTestGate(tools: string[]): { ok: boolean; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root (network namespaces, nft, tc)' };
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length > 0) return { ok: false, reason: `needs ${missing.join(', ')} (apt-get install -y ${missing.join(' ')})` };
  const probe = `cdt-gate-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', probe]);
  spawnSync('ip', ['netns', 'del', probe]);
  if (add.status !== 0) return { ok: false, reason: `cannot create network namespaces: ${add.stderr.toString().trim()}` };
  return { ok: true, reason: '' };
}

/** Prints why a system test file is skipped (vitest shows skips but not why). */
export function explainSkip(file: string, gate: { ok: boolean; reason: string }): void {
  if (!gate.ok) process.stderr.write(`SKIP ${file}: ${gate.reason}\n`);
}
