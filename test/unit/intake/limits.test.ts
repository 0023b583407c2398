import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { parseReportInProcess } from '../../../controller/intake/parseReport.js';
import { checkMimeShape } from '../../../controller/intake/checkMimeShape.js';
import { DEFAULT_INTAKE_LIMITS, IntakeLimitError, grpcMessageLimit, type IntakeLimits } from '../../../controller/intake/limits.js';
import { readZip } from '../../../controller/intake/readZip.js';
import { csvRecords } from '../../../controller/intake/formats/csvRecords.js';
import { manyParts, member, nestedMime, zeros, zipBytes } from './zipBytes.js';

const MiB = 1024 * 1024;
const SMALL: IntakeLimits = { ...DEFAULT_INTAKE_LIMITS, zipMemberBytes: 1 * MiB, decompressedBytes: 2 * MiB, zipMembers: 8, rows: 1000, lineLength: 4096, mimeDepth: 8, mimeParts: 50 };
const CSV = 'timestamp,ip,protocol,port\r\n2026-03-01 00:00:00,192.0.2.10,udp,1900\r\n';

function limitErrorOf(fn: () => unknown): IntakeLimitError {
  try {
    fn();
  } catch (err) {
    if (err instanceof IntakeLimitError) return err;
    throw err;
  }
  throw new Error('expected an IntakeLimitError');
}

describe('intake limits: zip archives', () => {
  it('refuses a member whose declared size is over the limit before inflating anything (the 8 × 100 MiB bomb)', async () => {
    const bomb = zipBytes(Array.from({ length: 8 }, (_, i) => ({ name: `x${i}.csv`, data: zeros(1024), declaredSize: 100 * MiB })));
    const r = await parseReportInProcess(bomb, 'report.zip');
    expect(r).toMatchObject({ complaints: [], needsInfo: 'over intake.limits.zipMemberBytes (104857600 > 67108864) in member x0.csv of zip report.zip (declared size)' });
  });

  it('counts the bytes as they inflate when the declared size lies, and stops at the limit', () => {
    const liar = zipBytes([{ name: 'a.csv', data: zeros(5 * MiB), declaredSize: 1000 }]);
    const budget = { used: 0 };
    const err = limitErrorOf(() => readZip(liar, SMALL, budget, 'zip liar.zip'));
    expect(err.message).toBe('over intake.limits.zipMemberBytes (at least 1048577 > 1048576) in member a.csv of zip liar.zip');
    expect(budget.used).toBe(0); // nothing past the limit was kept
  });

  it('holds all members of a report to intake.limits.decompressedBytes, declared and counted', () => {
    const declared = zipBytes([0, 1, 2].map((i) => ({ name: `m${i}.csv`, data: zeros(900 * 1024), declaredSize: 900 * 1024 })));
    expect(limitErrorOf(() => readZip(declared, SMALL, { used: 0 }, 'zip d.zip')).message).toBe('over intake.limits.decompressedBytes (2764800 > 2097152) in zip d.zip (declared sizes)');
    const lying = zipBytes([0, 1, 2].map((i) => ({ name: `m${i}.csv`, data: zeros(900 * 1024), declaredSize: 10 })));
    expect(limitErrorOf(() => readZip(lying, SMALL, { used: 0 }, 'zip l.zip')).message).toMatch(/^over intake\.limits\.decompressedBytes \(at least \d+ > 2097152\) in zip l\.zip, member m2\.csv$/);
  });

  it('refuses an archive with more members than intake.limits.zipMembers, from its directory', () => {
    const many = zipBytes(Array.from({ length: 9 }, (_, i) => member(`f${i}.csv`, 'x')));
    expect(limitErrorOf(() => readZip(many, SMALL, { used: 0 }, 'zip many.zip')).message).toBe('over intake.limits.zipMembers (9 > 8) in zip many.zip');
  });

  it('still reads a zipped Shadowserver CSV, and ignores a corrupt zip as before', async () => {
    const zip = Buffer.from(zipSync({ '2026-03-01-scan_ssdp-asn.csv': Buffer.from(CSV) }));
    const r = await parseReportInProcess(zip, '2026-03-01-scan_ssdp-asn.csv.zip');
    expect(r.complaints.map((c) => [c.ip, c.category])).toEqual([['192.0.2.10', 'open_service']]);
    const broken = await parseReportInProcess(Buffer.concat([zip.subarray(0, 40), Buffer.alloc(30)]), 'x.zip');
    expect(broken.needsInfo).not.toMatch(/intake\.limits/);
  });
});

describe('intake limits: MIME, lines, rows, size', () => {
  it('measures MIME depth and part count before mailparser builds the tree', async () => {
    expect(() => checkMimeShape(nestedMime(8), SMALL)).not.toThrow();
    expect(limitErrorOf(() => checkMimeShape(nestedMime(9), SMALL)).message).toMatch(/^over intake\.limits\.mimeDepth \(at least 9 > 8\)/);
    expect(() => checkMimeShape(manyParts(50), SMALL)).not.toThrow();
    expect(limitErrorOf(() => checkMimeShape(manyParts(51), SMALL)).message).toBe('over intake.limits.mimeParts (at least 51 > 50) in the message');
    const deep = await parseReportInProcess(nestedMime(5000));
    expect(deep).toMatchObject({ complaints: [], needsInfo: expect.stringMatching(/^over intake\.limits\.mimeDepth/), messageId: 'nested@example.net' });
  });

  it('counts an embedded message/rfc822 as a level', () => {
    const arf = (levels: number): Buffer => {
      let inner = 'From: a@example.org\r\nMessage-ID: <orig@example.org>\r\n\r\nhello\r\n';
      for (let i = 0; i < levels; i++) inner = `From: r${i}@example.net\r\nContent-Type: multipart/mixed; boundary="q${i}"\r\n\r\n--q${i}\r\nContent-Type: message/rfc822\r\n\r\n${inner}--q${i}--\r\n`;
      return Buffer.from(inner);
    };
    // Each level: a multipart (n), its message/rfc822 part (n+1), the embedded message (n+2).
    expect(() => checkMimeShape(arf(3), SMALL)).not.toThrow(); // depth 7
    expect(limitErrorOf(() => checkMimeShape(arf(4), SMALL)).limit).toBe('mimeDepth');
  });

  it('refuses a line longer than intake.limits.lineLength in text, but not in a JSON part', async () => {
    const long = Buffer.from(`From: a@example.net\r\nSubject: x\r\n\r\nSource IP: 192.0.2.1\r\n${'x'.repeat(5000)}\r\n`);
    expect((await parseReportInProcess(long, undefined, SMALL)).needsInfo).toBe('over intake.limits.lineLength (5000 > 4096) in the message text, line at offset 21');
    const json = Buffer.from(JSON.stringify({ xarf_version: '4.0.0', category: 'connection', type: 'login_attack', source_identifier: '192.0.2.7', padding: 'y'.repeat(5000) }));
    expect((await parseReportInProcess(json, 'report.json', SMALL)).complaints.map((c) => c.ip)).toEqual(['192.0.2.7']);
  });

  it('counts CSV rows and record lengths as it reads them', async () => {
    const rows = ['timestamp,ip', ...Array.from({ length: 1000 }, (_, i) => `2026-03-01 00:00:00,10.0.${i >> 8}.${i & 255}`)].join('\n');
    const r = await parseReportInProcess(Buffer.from(rows), '2026-03-01-scan_ssdp.csv', SMALL);
    expect(r.needsInfo).toBe('over intake.limits.rows (at least 1001 > 1000) in file 2026-03-01-scan_ssdp.csv');
    const bounds = { rows: 10, lineLength: 100, where: 'file f.csv' };
    expect([...csvRecords('a,b\n"c\nd",e\n', bounds)]).toEqual([['a', 'b'], ['c\nd', 'e']]);
    expect(() => [...csvRecords(`a,"${'q,'.repeat(60)}"\n`, bounds)]).toThrow(/^over intake\.limits\.lineLength \(at least 1\d\d > 100\) in file f\.csv, record 1$/);
  });

  it('refuses a report over intake.limits.maxReportBytes outright: nothing is parsed', async () => {
    const limits = { ...DEFAULT_INTAKE_LIMITS, maxReportBytes: 1000 };
    await expect(parseReportInProcess(Buffer.alloc(1001, 'a'), 'big.txt', limits)).rejects.toMatchObject({ kind: 'invalid', limit: 'maxReportBytes', message: 'over intake.limits.maxReportBytes (1001 > 1000) in the report' });
    expect(grpcMessageLimit(64 * MiB)).toBe(65 * MiB);
  });
});
