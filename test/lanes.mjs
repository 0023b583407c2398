#!/usr/bin/env node
// `npm test`: the suite's three vitest projects (vitest.config.ts) run as
// three vitest processes at once, one lane each, every lane one file at a
// time. The system lane mostly waits on processes, namespaces and timers;
// the other two mostly compute. Nothing outside the system lane uses a
// namespace, the lab or a fixed port (controllers, SMTP servers and BMC
// simulators take free loopback ports), so lanes cannot collide.
//
//   node test/lanes.mjs [vitest args…]     e.g. -- --reporter=verbose
//
// Each lane's lines are printed as they come, prefixed with its name; the
// run ends with each lane's summary and one line for all, and fails if any
// lane failed. A lane whose project is not defined (postgresql without
// PostgreSQL: vitest.config.ts prints why) counts as nothing to run.
//
// First, as root on Debian, it installs the Debian packages the system
// tests use that are missing (test/requirements.mjs; says so, and why not
// where it cannot: not root, not Debian, CORDON_TEST_NO_INSTALL=1).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTestPackages } from './requirements.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const LANES = ['system', 'sqlite', 'postgresql'];
const extra = process.argv.slice(2);
ensureTestPackages((line) => process.stdout.write(`${line}\n`));
const started = Date.now();

const children = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const c of children) c.kill(signal);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

function runLane(lane) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VITEST, 'run', '--project', lane, '--passWithNoTests', ...extra], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Three lanes share one terminal: colour only when it is one.
      env: process.stdout.isTTY ? process.env : { ...process.env, NO_COLOR: '1' },
    });
    children.add(child);
    const result = { lane, summary: undefined, noProject: false, seconds: 0 };
    const prefix = `[${lane}] `;
    for (const [stream, out] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ]) {
      createInterface({ input: stream }).on('line', (line) => {
        const m = /^tests: (\d+) passed, (\d+) failed, (\d+) skipped$/.exec(line);
        if (m) result.summary = { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3]) };
        if (/No projects matched the filter/.test(line)) result.noProject = true;
        out.write(prefix + line + '\n');
      });
    }
    child.on('exit', (code, signal) => {
      children.delete(child);
      result.code = code ?? (signal ? 1 : 0);
      result.seconds = Math.round((Date.now() - started) / 1000);
      resolve(result);
    });
  });
}

const results = await Promise.all(LANES.map(runLane));
const total = { passed: 0, failed: 0, skipped: 0 };
let failed = false;
process.stdout.write('\n');
for (const r of results) {
  if (r.noProject && r.lane === 'postgresql') {
    process.stdout.write(`lane ${r.lane}: not defined here (see the SKIP line above), nothing run\n`);
    continue;
  }
  if (r.code !== 0 || !r.summary) failed = true;
  const s = r.summary;
  process.stdout.write(`lane ${r.lane}: ${s ? `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped` : 'no summary'}, exit ${r.code}, done after ${r.seconds} s\n`);
  if (s) for (const k of Object.keys(total)) total[k] += s[k];
}
process.stdout.write(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped (in ${Math.round((Date.now() - started) / 1000)} s)\n`);
process.exit(failed ? 1 : 0);
