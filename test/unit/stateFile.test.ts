import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDesired } from '../../agent/enforce/parseDesired.js';
import { StateFile } from '../../agent/state/StateFile.js';

describe('StateFile', () => {
  it('saves atomically with mode 0600 and loads back', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'cordon-state-')), 'nested');
    const file = new StateFile(dir);
    expect(file.load()).toBeUndefined();
    const desired = parseDesired({ generation: 9, enforcements: [{ id: 'e', incidentId: 'i', reason: 'r', isolate: {} }] });
    file.save({ desired, linksDownedByCordon: ['pub0'], releasedLocally: false });
    expect(file.load()).toEqual({ desired, linksDownedByCordon: ['pub0'], releasedLocally: false });
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('skips a save identical to its own last one, but not one over a file another process rewrote', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-state-'));
    const file = new StateFile(dir);
    const desired = parseDesired({ generation: 3, enforcements: [{ id: 'e', incidentId: 'i', reason: 'r', isolate: {} }] });
    const state = { desired, linksDownedByCordon: [], releasedLocally: false };
    file.save(state);
    const first = statSync(file.path).ino;
    file.save(state);
    expect(statSync(file.path).ino).toBe(first);
    file.save({ ...state, linksDownedByCordon: ['pub0'] });
    const second = statSync(file.path).ino;
    expect(second).not.toBe(first);
    // An operator's `cordon-agent release-all` rewrote it: the daemon's same word must be written again.
    const other = new StateFile(dir);
    other.save({ ...state, linksDownedByCordon: ['pub0'], releasedLocally: true });
    file.save({ ...state, linksDownedByCordon: ['pub0'] });
    expect(file.load()).toEqual({ ...state, linksDownedByCordon: ['pub0'] });
  });

  it('says a corrupt file is corrupt instead of starting empty', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-state-'));
    writeFileSync(join(dir, 'state.json'), '{"version": 1, "desired": {"generation": "x"}}');
    expect(() => new StateFile(dir).load()).toThrow(/corrupt: generation: must be a positive integer/);
  });
});
