// cordonctl as one CommonJS file: `npm run build` runs this after tsc. It
// writes dist/controller/cli/cordonctl.cjs (esbuild) and removes tsc's
// dist/controller/cli/main.js, so there is one cordonctl and it is this one.
//
// Why: an operator's command is a process start, and its start is most of
// the time from the command to the host's first dropped packet (BENCHMARKS
// §8). Node loads ES modules one file at a time, through its asynchronous
// ES module loader; unbundled, `cordonctl incident enforce` read about 190
// files. One tree-shaken CommonJS file is read and compiled once, and the
// CommonJS loader starts about 9 ms sooner than the ES module one here.
//
// No grpc-js: commands call the controller through UnaryChannel (node's own
// HTTP/2). The generated files still import grpc-js for their client
// classes, which cordonctl never builds; they get grpcGeneratedShim.mjs
// instead, and the build fails if grpc-js or protobufjs reaches the bundle.
//
// Left out, loaded as tsc wrote it when a command needs it: `ingest` (its
// parse worker is a file of its own, found beside its module, and the intake
// stack is off the operator's hot path). A dynamic import() stays an import()
// in the CommonJS output, so it loads that ES module as it is.
//
// Tried and left out: running the bundle through vm.Script with a V8 code
// cache made at build time (Node 20 has no compile cache for user code). It
// saved 4-5 ms a start, but a script compiled from a code cache loses its
// dynamic import() callback in Node 20, which `ingest` needs.
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'dist/controller/cli');
const BUNDLE = join(OUT, 'cordonctl.cjs');

// Earlier builds' outputs: the per-command ES module chunks, and tsc's unbundled entry.
rmSync(join(OUT, 'bundle'), { recursive: true, force: true });
for (const f of ['main.js', 'main.js.map', 'main.d.ts', 'cordonctl.bundle.cjs', 'cordonctl.bundle.cjs.v8cache']) rmSync(join(OUT, f), { force: true });

await build({
  entryPoints: [join(ROOT, 'controller/cli/main.ts')],
  outfile: BUNDLE,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // version.ts finds package.json from its own URL.
  banner: { js: "const __cordonImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__cordonImportMetaUrl' },
  // Keep names in stack traces and error messages.
  keepNames: true,
  legalComments: 'none',
  plugins: [
    {
      name: 'grpc-js-shim-for-generated-code',
      setup(b) {
        b.onResolve({ filter: /^@grpc\/grpc-js$/ }, (args) =>
          args.importer.includes('/proto/gen/') ? { path: join(ROOT, 'deploy/build/grpcGeneratedShim.mjs') } : undefined,
        );
      },
    },
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

// The guard: a command that reaches grpc-js or protobufjs again would quietly cost its start time.
const heavy = /node_modules\/(@grpc\/grpc-js|protobufjs|@grpc\/proto-loader)\//.exec(readFileSync(BUNDLE, 'utf8'));
if (heavy) throw new Error(`cordonctl bundle contains ${heavy[1]}; commands must not load it (see the top of ${fileURLToPath(import.meta.url)})`);
chmodSync(BUNDLE, 0o755);
