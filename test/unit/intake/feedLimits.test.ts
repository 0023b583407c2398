import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from '../../../controller/intake/limits.js';
import { parseReportInProcess } from '../../../controller/intake/parseReport.js';
import { zipBytes, zeros } from './zipBytes.js';

/**
 * Hostile feeds: each ends as needs_info naming the intake limit it passed
 * (controller/intake/limits.ts), never as a hang, a crash or a partial
 * reading taken for the whole.
 */

const MiB = 1024 * 1024;
const SMALL: IntakeLimits = { ...DEFAULT_INTAKE_LIMITS, zipMemberBytes: 1 * MiB, decompressedBytes: 2 * MiB, rows: 1000, lineLength: 4096, jsonDepth: 32 };

async function needsInfo(raw: Buffer, filename?: string, limits: IntakeLimits = SMALL): Promise<string | null> {
  const r = await parseReportInProcess(raw, filename, limits);
  expect(r.complaints).toEqual([]);
  return r.needsInfo;
}

describe('hostile feeds', () => {
  it('a gzip bomb stops at intake.limits.zipMemberBytes, however small its trailer says it is', async () => {
    const bomb = gzipSync(Buffer.concat([Buffer.from('ip,type\n192.0.2.1,scan\n'), Buffer.alloc(8 * MiB, '0')]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(await needsInfo(bomb, 'feed.csv.gz')).toBe('over intake.limits.zipMemberBytes (at least 1048577 > 1048576) in gzip feed.csv.gz');
  });

  it('gzip inside a mail counts against the same limit', async () => {
    const bomb = gzipSync(Buffer.alloc(4 * MiB, 'a'));
    const mail = Buffer.from(
      `From: feeds@reporter.example\r\nSubject: feed\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: application/gzip\r\nContent-Disposition: attachment; filename="f.csv.gz"\r\nContent-Transfer-Encoding: base64\r\n\r\n${bomb.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n--b--\r\n`,
    );
    expect(await needsInfo(mail)).toMatch(/^over intake\.limits\.zipMemberBytes .* in gzip f\.csv\.gz$/);
  });

  it('a zipped JSON feed whose member lies about its size stops at the limit', async () => {
    const lying = zipBytes([{ name: 'feed.json', data: zeros(3 * MiB), declaredSize: 100 }]);
    expect(await needsInfo(lying, 'feed.zip')).toMatch(/^over intake\.limits\.zipMemberBytes \(at least 1048577 > 1048576\) in member feed\.json/);
  });

  it('a feed of ten million rows, gzipped under the report limit, stops at intake.limits.rows (the defaults)', async () => {
    const rows = Buffer.alloc(10_000_000 * 4);
    for (let i = 0; i < 10_000_000; i++) rows.write('1,x\n', i * 4, 'latin1');
    const raw = gzipSync(Buffer.concat([Buffer.from('ip,type\n'), rows]), { level: 1 });
    expect(raw.length).toBeLessThan(DEFAULT_INTAKE_LIMITS.maxReportBytes);
    const started = performance.now();
    expect(await needsInfo(raw, 'rows.csv.gz', DEFAULT_INTAKE_LIMITS)).toBe('over intake.limits.rows (at least 1000001 > 1000000) in file rows.csv');
    console.log(`feed limits: ten million rows refused in ${Math.round(performance.now() - started)} ms`);
  }, 60_000);

  it('JSON nested deeper than intake.limits.jsonDepth, as a document and as one JSON Lines record', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(await needsInfo(Buffer.from(deep))).toBe('over intake.limits.jsonDepth (at least 33 > 32) in file file');
    const nested = `{"data":[${'{"a":'.repeat(40)}1${'}'.repeat(40)}]}`;
    expect(await needsInfo(Buffer.from(nested), 'feed.json')).toBe('over intake.limits.jsonDepth (at least 33 > 32) in file feed.json');
    const lines = `{"ip":"192.0.2.1","type":"scan"}\n${'{"a":'.repeat(40)}1${'}'.repeat(40)}\n`;
    expect(await needsInfo(Buffer.from(lines), 'feed.jsonl')).toMatch(/^over intake\.limits\.jsonDepth/);
  });

  it('a JSON array of more records than intake.limits.rows', async () => {
    const many = JSON.stringify(Array.from({ length: 1001 }, () => ({ ip: '192.0.2.1', type: 'scan' })));
    expect(await needsInfo(Buffer.from(many), 'feed.json')).toBe('over intake.limits.rows (1001 > 1000) in file feed.json');
  });

  it('a field of 1 MB, plain, quoted across lines, and inside a gzip member', async () => {
    const big = 'x'.repeat(1 * MiB);
    expect(await needsInfo(Buffer.from(`ip,type,note\n192.0.2.1,scan,${big}\n`), 'feed.csv')).toMatch(/^over intake\.limits\.lineLength \(\d+ > 4096\) in feed\.csv, line at offset 13$/);
    const quoted = `ip,type,note\n192.0.2.1,scan,"${'y\n'.repeat(MiB / 2)}"\n`;
    expect(await needsInfo(Buffer.from(quoted), 'feed.csv')).toMatch(/^over intake\.limits\.lineLength \(at least \d+ > 4096\) in file feed\.csv, record 1$/);
    const zipped = gzipSync(`ip;type;note\n192.0.2.1;scan;${big.slice(0, 512 * 1024)}\n`);
    expect(await needsInfo(zipped, 'feed.csv.gz')).toMatch(/^over intake\.limits\.lineLength \(at least \d+ > 4096\) in file feed\.csv, record 1$/);
  });
});
