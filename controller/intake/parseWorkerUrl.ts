import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CordonError } from '../../proto/runtime/CordonError.js';

const HERE = fileURLToPath(import.meta.url);

/** Every source file the worker loads, following relative imports from parseWorker.ts. */
function sourcesOf(entry: string): string[] {
  const seen = new Set<string>([entry]);
  const todo = [entry];
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)\.js'/gm)) {
      const next = resolve(dirname(file), `${m[1]}.ts`);
      if (!seen.has(next) && existsSync(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return [...seen];
}

let checked: URL | undefined;

/**
 * Where the parse worker's code is. Compiled (dist/), it is the sibling
 * parseWorker.js. From source — vitest runs the .ts files, a worker thread
 * cannot — it is the compiled dist/controller/intake/parseWorker.js, which
 * `npm test` builds first; a dist/ older than any source file the worker
 * loads is refused (CordonError unsupported: run `npm run build`) rather
 * than silently running yesterday's parsers.
 */
export function parseWorkerUrl(): URL {
  if (HERE.endsWith('.js')) return new URL('./parseWorker.js', import.meta.url);
  if (checked) return checked;
  const root = resolve(dirname(HERE), '..', '..');
  const stale = sourcesOf(join(dirname(HERE), 'parseWorker.ts')).filter((source) => {
    const compiled = join(root, 'dist', relative(root, source)).replace(/\.ts$/, '.js');
    return !existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs;
  });
  if (stale.length > 0) {
    throw new CordonError('unsupported', `the parse worker runs compiled code, and dist/ is missing or older than ${stale.map((s) => relative(root, s)).join(', ')}: run npm run build`);
  }
  checked = pathToFileURL(join(root, 'dist', 'controller', 'intake', 'parseWorker.js'));
  return checked;
}
