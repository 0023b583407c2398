import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from '../../../controller/intake/limits.js';
import { ParsePool } from '../../../controller/intake/ParsePool.js';
import { parseReportInProcess } from '../../../controller/intake/parseReport.js';
import { zeros, zipBytes } from './zipBytes.js';

/**
 * The parse worker pool, for real: worker threads running the compiled
 * dist/controller/intake/parseWorker.js (`npm test` builds it first; run
 * `npm run build` before running this file alone).
 */
const MiB = 1024 * 1024;
const pools: ParsePool[] = [];
function pool(limits: Partial<IntakeLimits> = {}): ParsePool {
  const p = new ParsePool({ limits: { ...DEFAULT_INTAKE_LIMITS, ...limits } });
  pools.push(p);
  return p;
}
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

/** A Shadowserver CSV of `rows` rows, each a valid offender: every row becomes a complaint object. */
function bigFeed(rows: number): Buffer {
  const lines = ['timestamp,ip,protocol,port'];
  for (let i = 0; i < rows; i++) lines.push(`2026-03-01 00:00:00,10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255},udp,1900`);
  return Buffer.from(lines.join('\n'));
}

/** Runs `work` while a 10 ms interval timer runs; returns its result, the largest gap between ticks and the peak RSS growth. */
async function watched<T>(work: () => Promise<T>): Promise<{ value: T; maxGapMs: number; rssGrowth: number }> {
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  let last = performance.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  try {
    const value = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, maxGapMs: Math.max(maxGapMs, performance.now() - last), rssGrowth: peak - rss0 };
  } finally {
    clearInterval(timer);
  }
}

describe('ParsePool: parsing in worker threads', () => {
  it('gives the same result as parsing in process, excerpts and Message-IDs included', async () => {
    const p = pool();
    const arf = readFileSync(join(import.meta.dirname, '../../fixtures/intake/arf/abuse-arrival-date/message.eml'));
    const feed = bigFeed(12_000); // more than one batch of complaints
    for (const [raw, name] of [[arf, undefined], [feed, '2026-03-01-scan_ssdp-asn.csv']] as const) {
      const inWorker = await p.parse(raw, name);
      expect(inWorker).toEqual(await parseReportInProcess(raw, name));
    }
    const r = await p.parse(feed, '2026-03-01-scan_ssdp-asn.csv');
    expect(r.complaints[11_999]!.excerpt).toBe('timestamp,ip,protocol,port\r\n2026-03-01 00:00:00,10.0.46.223,udp,1900\r\n');
  });

  it('keeps the event loop free and the process small while a worker fights a zip bomb', async () => {
    // The observed bomb (8 members of 100 MiB in an 800 KB zip, 2 GB and a 7.8 s stall before), here lying
    // about its sizes (1 KB each) so that inflating really starts and has to be stopped by counting.
    const data = zeros(100 * MiB);
    const bomb = zipBytes(Array.from({ length: 8 }, (_, i) => ({ name: `x${i}.csv`, data, declaredSize: 1024 })));
    expect(bomb.length).toBeLessThan(1 * MiB);
    const workerHeapMb = 256;
    const p = pool({ workerHeapMb });
    await p.parse(Buffer.from('warm-up'), 'x.txt'); // the worker's start (loading its modules) is not what is measured
    const { value, maxGapMs, rssGrowth } = await watched(() => p.parse(bomb, 'report.zip'));
    expect(value).toMatchObject({ complaints: [], needsInfo: 'over intake.limits.zipMemberBytes (at least 67108865 > 67108864) in member x0.csv of zip report.zip' });
    expect(maxGapMs).toBeLessThan(200);
    expect(rssGrowth).toBeLessThan(workerHeapMb * MiB);
  });

  it('stops a parse that takes longer than intake.limits.parseSeconds, and the next report gets a fresh worker', async () => {
    const p = pool({ parseSeconds: 0.2 });
    const slow = bigFeed(300_000);
    const { value, maxGapMs } = await watched(() => p.parse(slow, '2026-03-01-scan_ssdp.csv'));
    expect(value).toEqual({ complaints: [], needsInfo: 'parse took longer than intake.limits.parseSeconds (0.2 s); the parse worker was stopped', messageId: undefined });
    expect(maxGapMs).toBeLessThan(200);
    const next = await p.parse(Buffer.from('From: a@isp.example\r\nSubject: x\r\n\r\nSource IP: 192.0.2.1\r\n'));
    expect(next.complaints.map((c) => c.ip)).toEqual(['192.0.2.1']);
  });

  it('a report that needs more than intake.limits.workerHeapMb kills its worker, not the process', async () => {
    const p = pool({ workerHeapMb: 48 });
    const hungry = bigFeed(400_000);
    const { value, rssGrowth } = await watched(() => p.parse(hungry, '2026-03-01-scan_ssdp.csv'));
    expect(value.needsInfo).toBe('parse ran out of memory: over intake.limits.workerHeapMb (48 MiB); the parse worker was stopped');
    // The heap limit plus what it does not count: the worker's young generation, code, the report's copy, the CSV text.
    expect(rssGrowth).toBeLessThan(256 * MiB);
    expect((await p.parse(bigFeed(10), '2026-03-01-scan_ssdp.csv')).complaints).toHaveLength(10);
  });

  it('queues reports beyond its workers, and refuses one over intake.limits.maxReportBytes without parsing it', async () => {
    const p = pool({ maxReportBytes: 1000 });
    const all = await Promise.all([1, 2, 3].map((n) => p.parse(Buffer.from(`From: a@isp.example\r\nSubject: x\r\n\r\nSource IP: 192.0.2.${n}\r\n`))));
    expect(all.map((r) => r.complaints[0]!.ip)).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    await expect(p.parse(Buffer.alloc(1001, 'a'))).rejects.toMatchObject({ kind: 'invalid', message: 'over intake.limits.maxReportBytes (1001 > 1000) in the report' });
  });
});
