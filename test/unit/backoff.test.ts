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

describe("firstRedialDelay with the controller's admission pacing", () => {
  it('takes the longer of its own spread and the one the controller told, never over five minutes', async () => {
    const { firstRedialDelay, MAX_TOLD_SPREAD_MS } = await import('../../agent/link/backoff.js');
    const policy = { initialMs: 500, maxMs: 30_000, spreadMs: 10_000 };
    // 10,000 agents at 400/s: 25 s.
    expect(firstRedialDelay(policy, () => 0.999, 25_000)).toBe(24_975);
    // Beyond the agent's own maxMs: the controller knows its fleet.
    expect(firstRedialDelay(policy, () => 0.5, 100_000)).toBe(50_000);
    // A small fleet's hint does not shorten the agent's own spread.
    expect(firstRedialDelay(policy, () => 0.999, 2_000)).toBe(9_990);
    // A broken or hostile controller cannot park the fleet for long.
    expect(MAX_TOLD_SPREAD_MS).toBe(300_000);
    expect(firstRedialDelay(policy, () => 0.999, 0xffffffff)).toBe(299_700);
    expect(firstRedialDelay(policy, () => 0.999, 0)).toBe(9_990);
  });
});
