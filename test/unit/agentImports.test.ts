import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * The packages the agent daemon loads at run time, found by walking its
 * imports from `agent/main.ts` (type-only imports are erased and skipped).
 */
function runtimePackages(entry: string): { packages: Set<string>; files: number } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    const specifiers = [
      ...src.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm),
      ...src.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]!);
    for (const spec of specifiers) {
      if (spec.startsWith('.')) walk(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  };
  walk(join(ROOT, entry));
  return { packages, files: seen.size };
}

describe("the agent's run-time imports", () => {
  it('load neither pino nor grpc-js: the agent has a 50 MiB budget (BENCHMARKS.md §4)', () => {
    const { packages, files } = runtimePackages('agent/main.ts');
    expect(files).toBeGreaterThan(30);
    expect([...packages].sort()).toEqual(['@bufbuild/protobuf', 'convict']);
  });
});
