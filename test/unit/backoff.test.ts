import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../agent/link/backoff.js';

describe('backoffDelay', () => {
  const policy = { initialMs: 500, maxMs: 30_000 };
  it('grows exponentially up to the cap', () => {
    const top = (attempt: number) => backoffDelay(attempt, policy, () => 0.999999);
    expect(top(0)).toBe(499);
    expect(top(3)).toBe(3_999);
    expect(top(10)).toBe(29_999);
    expect(top(1_000)).toBe(29_999);
  });
  it('jitters over the whole range', () => {
    expect(backoffDelay(5, policy, () => 0)).toBe(0);
    expect(backoffDelay(5, policy, () => 0.5)).toBe(8_000);
  });
});

describe('firstRedialDelay', () => {
  it('spreads the first redial after a lost stream over spreadMs, capped by maxMs', async () => {
    const { firstRedialDelay } = await import('../../agent/link/backoff.js');
    expect(firstRedialDelay({ initialMs: 500, maxMs: 30_000, spreadMs: 10_000 }, () => 0.999)).toBe(9_990);
    expect(firstRedialDelay({ initialMs: 500, maxMs: 2_000, spreadMs: 10_000 }, () => 0.999)).toBe(1_998);
    expect(firstRedialDelay({ initialMs: 500, maxMs: 30_000 }, () => 0.5)).toBe(250);
    expect(firstRedialDelay({ initialMs: 500, maxMs: 30_000, spreadMs: 10_000 }, () => 0)).toBe(0);
  });
});
