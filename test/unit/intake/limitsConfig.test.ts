import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../../../controller/config.js';
import { DEFAULT_INTAKE_LIMITS } from '../../../controller/intake/limits.js';

const dir = mkdtempSync(join(tmpdir(), 'cordon-intake-config-'));
let n = 0;
const load = (content: unknown) => {
  const file = join(dir, `c${n++}.json`);
  writeFileSync(file, JSON.stringify(content));
  return loadControllerConfig({ file, env: {} });
};

describe('controller config: intake.limits and intake.parseWorkers', () => {
  it('defaults to DEFAULT_INTAKE_LIMITS and one parse worker', () => {
    const c = loadControllerConfig({ env: {} });
    expect(c.get('intake.limits')).toEqual(DEFAULT_INTAKE_LIMITS);
    expect(c.get('intake.parseWorkers')).toBe(1);
  });

  it('takes overrides and refuses what is not a limit', () => {
    const c = load({ intake: { limits: { maxReportBytes: 8 * 1024 * 1024 }, parseWorkers: 2 } });
    expect(c.get('intake.limits')).toEqual({ ...DEFAULT_INTAKE_LIMITS, maxReportBytes: 8 * 1024 * 1024 });
    expect(() => load({ intake: { limits: { rows: 0 } } })).toThrow(/intake\.limits\.rows: must be a positive integer/);
    expect(() => load({ intake: { limits: { zipBombs: 1 } } })).toThrow(/zipBombs/);
    expect(() => load({ intake: { parseWorkers: 9 } })).toThrow(/intake\.parseWorkers: must be an integer from 1 to 4/);
  });
});
