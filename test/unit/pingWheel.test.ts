import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PingWheel } from '../../controller/agents/PingWheel.js';

describe('PingWheel', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('pings each stream once per interval, streams that joined in the same second together', () => {
    const wheel = new PingWheel(30_000);
    const at: Record<string, number[]> = { a: [], b: [], c: [] };
    const start = Date.now();
    const mark = (k: string) => () => at[k]!.push(Date.now() - start);
    wheel.add(mark('a'));
    vi.advanceTimersByTime(400);
    wheel.add(mark('b'));
    vi.advanceTimersByTime(10_000);
    wheel.add(mark('c'));
    vi.advanceTimersByTime(100_000 - 10_400);
    // a and b joined within the same slot: pinged in the same tick, every 30 s.
    expect(at.a).toEqual([30_000, 60_000, 90_000]);
    expect(at.b).toEqual(at.a);
    // c joined ten slots later: its own tick, an interval after the slot it joined in.
    expect(at.c).toEqual([40_000, 70_000, 100_000]);
    expect(wheel.size).toBe(3);
    wheel.stop();
  });

  it('stops pinging a stream taken off, and never before about one interval after it joined', () => {
    const wheel = new PingWheel(5_000);
    const pings: number[] = [];
    const start = Date.now();
    vi.advanceTimersByTime(999);
    const off = wheel.add(() => pings.push(Date.now() - start));
    vi.advanceTimersByTime(12_000);
    expect(pings.length).toBe(2);
    // Joined 999 ms in, in the slot ticked at 0: due at 5 s, then 10 s, never sooner than 4 s after joining.
    expect(pings).toEqual([5_000, 10_000]);
    off();
    vi.advanceTimersByTime(20_000);
    expect(pings.length).toBe(2);
    expect(wheel.size).toBe(0);
    wheel.stop();
  });

  it('takes off a ping that throws, and the others in its slot are still pinged', () => {
    const wheel = new PingWheel(2_000);
    let good = 0;
    wheel.add(() => {
      throw new Error('stream gone');
    });
    wheel.add(() => good++);
    vi.advanceTimersByTime(4_000);
    expect(good).toBe(2);
    expect(wheel.size).toBe(1);
    wheel.stop();
  });

  it('an interval shorter than a slot is one slot of that interval (tests ping every few ms)', () => {
    const wheel = new PingWheel(50);
    let n = 0;
    wheel.add(() => n++);
    vi.advanceTimersByTime(500);
    expect(n).toBe(10);
    wheel.stop();
  });
});
