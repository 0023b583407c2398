import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseReportInProcess } from '../../../controller/intake/parseReport.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/intake/issue18');

/** What a sample's expected.json states: per offender, in order, its category and event time; or the needs_info reason. */
interface Expected {
  ip: string[];
  category: string[];
  eventTime: (string | null)[];
  eventTimeSource?: 'report' | 'receipt';
  format?: string;
  reporterKind?: string;
  traps: string[];
  needsInfo?: string;
}

const samples = readdirSync(FIXTURES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

describe.each(samples)('issue 18 sample %s', (name) => {
  it('reads the expected offenders with their category and event time, and none of the traps', async () => {
    const dir = join(FIXTURES, name);
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
    const file = readdirSync(dir).find((f) => f !== 'expected.json')!;
    const r = await parseReportInProcess(readFileSync(join(dir, file)), file);
    const ips = r.complaints.map((c) => c.ip);
    for (const trap of expected.traps) expect(ips).not.toContain(trap);
    if (expected.needsInfo !== undefined) {
      expect(r.complaints).toEqual([]);
      expect(r.needsInfo).toMatch(new RegExp(expected.needsInfo));
      return;
    }
    expect(r.needsInfo).toBeNull();
    expect(ips).toEqual(expected.ip);
    expect(r.complaints.map((c) => c.category)).toEqual(expected.category);
    expect(r.complaints.map((c) => c.eventTime?.toISOString() ?? null)).toEqual(expected.eventTime);
    for (const c of r.complaints) {
      if (expected.eventTimeSource) expect(c.eventTimeSource).toBe(expected.eventTimeSource);
      if (expected.format) expect(c.format).toBe(expected.format);
      if (expected.reporterKind) expect(c.reporterKind).toBe(expected.reporterKind);
    }
  });
});
