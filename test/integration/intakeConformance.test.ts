import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseReport } from '../../controller/intake/parseReport.js';
import { REPO_ROOT } from '../helpers/paths.js';

const DIR = join(REPO_ROOT, '..', 'shared', 'fixtures', 'abuse-reports');
const present = existsSync(join(DIR, 'INDEX.md'));
if (!present) process.stderr.write(`SKIP intakeConformance.test.ts: ${DIR} is absent (CI has it)\n`);

interface Expected {
  id: string;
  file: string;
  categories: string[];
  ips: string[];
  first: string;
  last: string;
  traps: string[];
}

const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}\b/g;
const IPV6 = /\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}\b/gi;

/**
 * Reads INDEX.md's table and its "Notes, traps and quirks" — the expected
 * values as the fixture's curator wrote them, not as this project's parsers
 * produce them.
 */
function readIndex(): Expected[] {
  const text = readFileSync(join(DIR, 'INDEX.md'), 'utf8');
  const rows = text.split('\n').filter((l) => /^\| dev-\d+ \|/.test(l));
  const notes = text.slice(text.indexOf('## Notes'));
  return rows.map((row) => {
    const cells = row.split('|').map((c) => c.trim());
    const [, id, file, , , category, ips, when] = cells as string[];
    const norm = (c: string) => c.replace(/-/g, '_');
    const categories = [norm(category!.split(/[ (]/)[0]!), ...[...category!.matchAll(/alt: ([a-z-]+)/g)].map((m) => norm(m[1]!))];
    const ipList = ips!.replace(/\[\d+\]/, '').replace(/\(.*?\)/g, '').split(',').map((s) => s.trim()).filter(Boolean);
    const times = [...when!.matchAll(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/g)].map((m) => m[0]);
    const note = notes.split(/\n\* /).find((n) => n.startsWith(`${id} `)) ?? '';
    const trapText = note.split(/Traps?:/i).slice(1).join(' ');
    const traps = [...(trapText.match(IPV4) ?? []), ...(trapText.match(IPV6) ?? [])].filter((t) => !ipList.includes(t));
    return { id: id!, file: file!, categories, ips: ipList, first: times[0]!, last: times[1] === undefined || !when!.includes('..') ? times[0]! : times[1]!, traps };
  });
}

describe.skipIf(!present)('the real samples in shared/fixtures/abuse-reports, against INDEX.md', () => {
  const expected = present ? readIndex() : [];
  it('reads all eight rows of the index', () => {
    expect(expected.map((e) => e.id)).toEqual(['dev-01', 'dev-02', 'dev-03', 'dev-04', 'dev-05', 'dev-06', 'dev-07', 'dev-08']);
  });

  for (const e of expected) {
    it(`${e.id} ${e.file}`, async () => {
      const r = await parseReport(readFileSync(join(DIR, e.file)), e.file);
      expect(r.needsInfo).toBeNull();
      expect(r.complaints.map((c) => c.ip)).toEqual(e.ips);
      for (const c of r.complaints) expect(e.categories).toContain(c.category);
      const times = r.complaints.map((c) => c.eventTime!.toISOString().replace('.000Z', 'Z')).sort();
      expect(times[0]).toBe(e.first);
      expect(times.at(-1)).toBe(e.last);
      for (const trap of e.traps) expect(r.complaints.map((c) => c.ip)).not.toContain(trap);
    });
  }
});
