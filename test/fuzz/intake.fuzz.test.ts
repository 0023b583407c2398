import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReport } from '../../controller/intake/parseReport.js';
import { REPO_ROOT } from '../helpers/paths.js';

/**
 * Generated and mutated reports into the intake: it must never throw, never
 * take over a second for one message, and always answer with complaints or a
 * needs_info reason (never both, never neither). The normal suite runs a few
 * hundred; `npm run fuzz` runs FUZZ_RUNS (100,000 by default there).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

function seeds(): Buffer[] {
  const dirs = [join(REPO_ROOT, '..', 'shared', 'fixtures', 'abuse-reports'), join(REPO_ROOT, 'test', 'fixtures', 'intake')];
  const out: Buffer[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (!n.endsWith('.md') && !n.startsWith('expected')) out.push(readFileSync(p));
    }
  };
  dirs.forEach(walk);
  return out.length > 0 ? out : [Buffer.from('From: a@b\r\nSubject: x\r\n\r\nSource IP: 192.0.2.1\r\n')];
}

const SEEDS = seeds();

const mutate = fc
  .tuple(fc.nat({ max: SEEDS.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.uint8Array({ maxLength: 16 })), { maxLength: 8 }))
  .map(([i, edits]) => {
    let b = Buffer.from(SEEDS[i]!);
    for (const [at, kind, bytes] of edits) {
      const pos = b.length ? at % b.length : 0;
      if (kind === 0) b = Buffer.concat([b.subarray(0, pos), Buffer.from(bytes), b.subarray(pos)]); // insert
      else if (kind === 1) b = Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(b.length, pos + bytes.length + 1))]); // delete
      else if (kind === 2) b = b.subarray(0, pos); // truncate
      else for (let k = 0; k < bytes.length && pos + k < b.length; k++) b[pos + k] = bytes[k]!; // overwrite
    }
    return b;
  });

const structured = fc.oneof(
  fc.json().map((j) => Buffer.from(j)),
  fc.array(fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string(), fc.constant('"a,b"')), { maxLength: 8 }), { maxLength: 20 }).map((rows) =>
    Buffer.from(['timestamp,ip,src_ip,dst_ip,port', ...rows.map((r) => r.join(','))].join('\r\n')),
  ),
  fc.tuple(fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,20}$/), fc.string()), { maxLength: 10 }), fc.string({ maxLength: 2000 })).map(([headers, body]) =>
    Buffer.from(`${headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`),
  ),
  fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)),
);

describe('intake fuzzing', () => {
  it(`survives ${RUNS} generated and mutated messages`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutate, structured), async (raw) => {
        const started = performance.now();
        const r = await parseReport(raw);
        const ms = performance.now() - started;
        // The hang budget is checked by the fuzz script only: timing has no place in the normal suite.
        if (process.env.FUZZ_RUNS) expect(ms).toBeLessThan(1_000);
        expect((r.needsInfo === null) !== (r.complaints.length === 0)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  }, Math.max(60_000, RUNS * 10));
});
