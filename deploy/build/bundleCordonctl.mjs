// cordonctl as a bundle: `npm run build` runs this after tsc. It replaces
// dist/controller/cli/main.js (tsc's output, many ES modules) with one file
// per command group (esbuild, chunks under dist/controller/cli/bundle/).
//
// Why: an operator's command is a process start, and Node loads ES modules
// one file at a time. Unbundled, `cordonctl incident enforce` read about
// 190 files (gRPC, protobuf's wire format and its reflection, the generated
// messages) before sending anything: about 75 ms of its 190 ms on this
// project's machine. Bundled, tree-shaken and split per command, only what
// the command uses is read, in a few files. The other dist/ modules stay as
// tsc wrote them: the daemons, tests and benchmarks import those.
//
// Left out of the bundle, loaded as tsc wrote them when a command needs
// them: `ingest` (its parse worker is a file of its own, found beside its
// module) and grpc-health-check (it finds its .proto from __dirname). Both
// are off the operator's hot path.
import { build } from 'esbuild';
import { chmodSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'dist/controller/cli');

rmSync(join(OUT, 'bundle'), { recursive: true, force: true });
await build({
  entryPoints: [join(ROOT, 'controller/cli/main.ts')],
  outdir: OUT,
  entryNames: '[name]',
  chunkNames: 'bundle/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // gRPC and the mail libraries are CommonJS and require() Node's own
  // modules; an ES module bundle has no require of its own.
  banner: { js: "import { createRequire as __cordonRequire } from 'node:module'; const require = __cordonRequire(import.meta.url);" },
  // Keep names in stack traces and error messages.
  keepNames: true,
  legalComments: 'none',
  external: ['grpc-health-check'],
  plugins: [
    {
      name: 'ingest-unbundled',
      setup(b) {
        // Imported from main.ts, which is written to the same folder as tsc's ingestCommand.js.
        b.onResolve({ filter: /^\.\/ingestCommand\.js$/ }, (args) => ({ path: args.path, external: true }));
      },
    },
  ],
  logLevel: 'warning',
});
chmodSync(join(OUT, 'main.js'), 0o755);
