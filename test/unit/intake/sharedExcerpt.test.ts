import { describe, expect, it } from 'vitest';
import { parseReportInProcess } from '../../../controller/intake/parseReport.js';
import { ExcerptPacker, ExcerptUnpacker } from '../../../controller/intake/sharedExcerpt.js';

/** A 226 KB-class Shadowserver CSV: `columns` columns in the header, rows of `fields` fields, about `bytes` in all. */
function feed(columns: number, fields: number, bytes: number): { csv: Buffer; header: string; rows: string[] } {
  const names = ['timestamp', 'src_ip', ...Array.from({ length: columns - 2 }, (_, i) => `extra_column_${i}`)];
  const header = names.join(',');
  const rows: string[] = [];
  let size = header.length;
  for (let i = 0; size < bytes; i++) {
    const row = [`2026-03-01 00:00:00`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, ...Array.from({ length: fields - 2 }, (_, k) => `v${k}`)].join(',');
    rows.push(row);
    size += row.length + 2;
  }
  return { csv: Buffer.from([header, ...rows].join('\r\n') + '\r\n'), header, rows };
}

describe('Shadowserver excerpts', () => {
  it('give each customer the header line and their own row only', async () => {
    const { csv, header, rows } = feed(12, 12, 20_000);
    const r = await parseReportInProcess(csv, '2026-03-01-scan_ssdp-asn.csv');
    expect(r.complaints).toHaveLength(rows.length);
    r.complaints.forEach((c, i) => {
      expect(c.excerpt).toBe(`${header}\r\n${rows[i]}\r\n`);
      expect(c.excerpt!.split('\r\n').filter((l) => /^2026/.test(l))).toEqual([rows[i]]);
    });
  });

  it('share the header across threads: it is packed once, and unpacks to the same excerpts', async () => {
    const { csv } = feed(30, 30, 50_000);
    const r = await parseReportInProcess(csv, '2026-03-01-scan_ssdp-asn.csv');
    const before = r.complaints.map((c) => c.excerpt);
    // In two batches, as the parse worker sends them: the header goes with the first only.
    const packer = new ExcerptPacker();
    const half = r.complaints.length >> 1;
    const batches = [r.complaints.slice(0, half), r.complaints.slice(half)].map((complaints) => ({ complaints, excerpts: packer.pack(complaints) }));
    expect(batches.map((b) => b.excerpts.heads.length)).toEqual([1, 0]);
    expect(r.complaints.every((c) => c.excerpt === undefined)).toBe(true);
    const unpacker = new ExcerptUnpacker();
    const received = structuredClone(batches).flatMap((b) => {
      unpacker.unpack(b.complaints, b.excerpts);
      return b.complaints;
    });
    expect(received.map((c) => c.excerpt)).toEqual(before);
  });

  it('stay small for a wide header over thousands of short rows (they took 339 MiB for these 226 KB)', async () => {
    // 3,400 columns (a 60 KB header line, under intake.limits.lineLength), 5,000+ rows of two fields.
    const { csv, rows } = feed(3400, 2, 226 * 1024);
    globalThis.gc?.();
    const heap = process.memoryUsage().heapUsed;
    const r = await parseReportInProcess(csv, '2026-03-01-scan_ssdp-asn.csv');
    expect(r.complaints).toHaveLength(rows.length);
    expect(rows.length).toBeGreaterThan(5000);
    // The header in each excerpt is cut to the columns its row has; the rest would only be empty cells.
    expect(r.complaints[7]!.excerpt).toBe(`timestamp,src_ip\r\n${rows[7]}\r\n`);
    const excerptChars = r.complaints.reduce((n, c) => n + c.excerpt!.length, 0);
    expect(excerptChars).toBeLessThan(2 * 1024 * 1024);
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(64 * 1024 * 1024);
  });
});
