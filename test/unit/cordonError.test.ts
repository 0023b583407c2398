import { describe, expect, it } from 'vitest';
import { asCordonError, CordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import { IntakeLimitError } from '../../controller/intake/limits.js';

describe('CordonError across two copies of its module', () => {
  // cordonctl's bundle loads `ingest` as tsc wrote it: its errors come from the other copy of the class.
  it('is a CordonError to either copy, and asCordonError keeps it (kind, field, message)', async () => {
    const secondCopy = '../../proto/runtime/CordonError.js?second-copy';
    const other = (await import(/* @vite-ignore */ secondCopy)) as typeof import('../../proto/runtime/CordonError.js');
    expect(other.CordonError).not.toBe(CordonError);
    const foreign = new other.CordonError('invalid', 'must be a file', { field: '--maildir' });
    expect(foreign instanceof CordonError).toBe(true);
    expect(isCordonError(foreign, 'invalid')).toBe(true);
    expect(asCordonError(foreign)).toBe(foreign);
    expect(new CordonError('refused', 'no') instanceof other.CordonError).toBe(true);
  });

  it('keeps the ordinary check for subclasses, and for anything else', () => {
    const limit = new IntakeLimitError('maxReportBytes', 20, 10);
    expect(limit instanceof CordonError).toBe(true);
    expect(new CordonError('invalid', 'x') instanceof IntakeLimitError).toBe(false);
    expect(new Error('plain') instanceof CordonError).toBe(false);
    expect({ kind: 'invalid', message: 'forged' } instanceof CordonError).toBe(false);
    expect(asCordonError(new Error('boom')).kind).toBe('internal');
  });
});
