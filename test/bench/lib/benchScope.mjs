// What a root benchmark leaves behind, cleaned up once whichever way it ends:
// a temporary folder, the child processes it started, and its lab of
// namespaces (lib/netns.mjs's createLab). On a normal exit, process.exit
// from a time bound, Ctrl-C, SIGTERM and an uncaught error alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Creates the folder (under $TMPDIR, named from `prefix`) and registers the
 * cleanup. Put started processes in `children`, log flushers in
 * `logFlushers`, the lab in `lab`. `beforeRemove(work)` runs after the
 * processes are gone and the logs flushed, before the folder goes (to keep
 * what --keep asked for).
 */
export function benchScope(prefix, { beforeRemove } = {}) {
  let cleaned = false;
  const scope = {
    work: mkdtempSync(join(tmpdir(), prefix)),
    children: new Set(),
    logFlushers: [],
    lab: undefined,
    cleanup() {
      if (cleaned) return;
      cleaned = true;
      for (const c of scope.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      scope.lab?.destroy();
      for (const flush of scope.logFlushers) flush();
      beforeRemove?.(scope.work);
      rmSync(scope.work, { recursive: true, force: true });
    },
  };
  process.on('exit', scope.cleanup);
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  return scope;
}
