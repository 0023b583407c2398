import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from '../../controller/intake/limits.js';
import { parseReport, parseReportInProcess } from '../../controller/intake/parseReport.js';
import type { ParseResult } from '../../controller/intake/types.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { manyParts, nestedMime, zeros, zipBytes } from '../unit/intake/zipBytes.js';

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
  // Feeds of other shapes: a delimiter and names from the feed vocabulary, JSON Lines with nested keys.
  fc.tuple(fc.constantFrom(',', ';', '\t', '|'), fc.array(fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 }), fc.constantFrom('1704164645000', '2024-01-02T03:04:05+01:00', 'c2-server')), { maxLength: 6 }), { maxLength: 20 })).map(([d, rows]) =>
    Buffer.from(['# source.ip|dst|ts|type'.replace(/\|/g, d), ...rows.map((r) => r.join(d))].join('\n')),
  ),
  fc.array(fc.record({ source: fc.record({ ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()) }), destination: fc.record({ ip: fc.ipV4() }), ts: fc.oneof(fc.integer(), fc.string()), type: fc.string() }), { maxLength: 10 }).map((records) =>
    Buffer.from(records.map((r) => JSON.stringify(r)).join('\n')),
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

/**
 * Oversized and adversarial reports: zip bombs (many members, members whose
 * declared size lies), MIME nested deep or split into thousands of parts,
 * huge single lines, CSV files of very many tiny rows. Each must end as
 * needs_info naming the limit it passed (or parse, when it passed none),
 * never throw, and stay within bounded memory (and, in `npm run fuzz`, time).
 * Limits are scaled down so that `npm test` runs them in seconds; the
 * million-row file runs once at the real defaults, in a parse worker.
 */
const MiB = 1024 * 1024;
const SMALL: IntakeLimits = { ...DEFAULT_INTAKE_LIMITS, zipMembers: 16, zipMemberBytes: 1 * MiB, decompressedBytes: 2 * MiB, rows: 10_000, lineLength: 64 * 1024, mimeDepth: 8, mimeParts: 200 };
/** Deflated zeros of a few sizes, made once: under, around and over SMALL's member limit. */
const ZEROS = new Map([0, 1024, 900 * 1024, 3 * MiB].map((n) => [n, zeros(n)]));

interface Case {
  raw: Buffer;
  filename?: string;
  /** The limit the case passes by construction, or undefined when it passes none. */
  over: RegExp | undefined;
}

const zipBomb = fc
  .record({
    members: fc.integer({ min: 1, max: 40 }),
    size: fc.constantFrom(...ZEROS.keys()),
    lie: fc.oneof(fc.constant(undefined), fc.nat({ max: 2 * MiB }), fc.constant(0xffffffff)),
  })
  .map(({ members, size, lie }): Case => {
    const declaredSize = lie ?? size;
    const raw = zipBytes(Array.from({ length: members }, (_, i) => ({ name: `2026-03-01-scan_ssdp-${i}.csv`, data: ZEROS.get(size)!, declaredSize })));
    const over = members > SMALL.zipMembers || size > SMALL.zipMemberBytes || declaredSize > SMALL.zipMemberBytes || members * declaredSize > SMALL.decompressedBytes || members * size > SMALL.decompressedBytes;
    return { raw, filename: 'report.zip', over: over ? /^over intake\.limits\.(zipMembers|zipMemberBytes|decompressedBytes) \(/ : undefined };
  });

const deepMime = fc.integer({ min: 1, max: 60 }).map((depth): Case => ({ raw: nestedMime(depth), over: depth > SMALL.mimeDepth ? /^over intake\.limits\.mimeDepth \(/ : undefined }));
const wideMime = fc.integer({ min: 1, max: 1000 }).map((parts): Case => ({ raw: manyParts(parts), over: parts > SMALL.mimeParts ? /^over intake\.limits\.mimeParts \(/ : undefined }));

const longLine = fc
  .record({ length: fc.integer({ min: 1, max: 200_000 }), mail: fc.boolean(), unit: fc.constantFrom('a', ' ', ',', '"', '\u00e9') })
  .map(({ length, mail, unit }): Case => {
    const line = unit.repeat(length);
    const raw = Buffer.from(mail ? `From: a@isp.example\r\nSubject: x\r\n\r\nSource IP: 192.0.2.1\r\n${line}\r\n` : `Source IP: 192.0.2.1\n${line}\n`);
    // A line in a mail body is counted after decoding (characters), a bare file's before (bytes).
    const size = mail ? line.length : Buffer.byteLength(line);
    return { raw, over: size > SMALL.lineLength ? /^over intake\.limits\.lineLength \(/ : undefined };
  });

const tinyRows = fc.integer({ min: 1, max: 30_000 }).map((rows): Case => ({
  raw: Buffer.from(`timestamp,ip\n${'t,1\n'.repeat(rows)}`),
  filename: '2026-03-01-scan_ssdp.csv',
  over: rows > SMALL.rows ? /^over intake\.limits\.rows \(/ : undefined,
}));

function checkResult(r: ParseResult, c: Case): void {
  expect((r.needsInfo === null) !== (r.complaints.length === 0)).toBe(true);
  if (c.over) expect(r.needsInfo).toMatch(c.over);
  else expect(r.needsInfo ?? '').not.toMatch(/intake\.limits/);
}

describe('intake fuzzing: oversized and adversarial reports', () => {
  it(`ends ${RUNS} bombs, deep and wide MIME, long lines and row floods as needs_info naming the limit, or parses them`, async () => {
    globalThis.gc?.();
    const heap = process.memoryUsage().heapUsed;
    await fc.assert(
      fc.asyncProperty(fc.oneof(zipBomb, deepMime, wideMime, longLine, tinyRows), async (c) => {
        const started = performance.now();
        const r = await parseReportInProcess(c.raw, c.filename, SMALL);
        if (process.env.FUZZ_RUNS) expect(performance.now() - started).toBeLessThan(1_000);
        checkResult(r, c);
        // Nothing a case reads may be kept: the heap stays near where it started (the limits are a few MiB).
        expect(process.memoryUsage().heapUsed - heap).toBeLessThan(256 * MiB);
      }),
      { numRuns: RUNS },
    );
  }, Math.max(60_000, RUNS * 20));

  it('a CSV of a million tiny rows and one more, at the real defaults, in a parse worker', async () => {
    const raw = Buffer.from(`timestamp,ip\n${'t,1\n'.repeat(DEFAULT_INTAKE_LIMITS.rows + 1)}`);
    const r = await parseReport(raw, '2026-03-01-scan_ssdp.csv');
    expect(r).toMatchObject({ complaints: [], needsInfo: 'over intake.limits.rows (at least 1000001 > 1000000) in file 2026-03-01-scan_ssdp.csv' });
  });
});
