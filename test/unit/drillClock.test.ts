import { afterEach, describe, expect, it, vi } from 'vitest';
import { DrillClock } from '../../controller/clock.js';
import { parseDuration } from '../../controller/cli/clockCommand.js';

describe('DrillClock', () => {
  afterEach(() => vi.useRealTimers());

  it('runs at wall speed and jumps forward on advance, firing what came due in order', () => {
    vi.useFakeTimers({ now: new Date('2026-11-02T09:00:00Z') });
    const clock = new DrillClock();
    const fired: string[] = [];
    clock.schedule(new Date('2026-11-03T09:00:00Z'), () => fired.push('ack'));
    clock.schedule(new Date('2026-11-05T09:00:00Z'), () => fired.push('resolve'));
    vi.advanceTimersByTime(60_000);
    expect(clock.now().toISOString()).toBe('2026-11-02T09:01:00.000Z');
    expect(fired).toEqual([]);
    clock.advance(24 * 3_600_000);
    vi.advanceTimersByTime(0);
    expect(fired).toEqual(['ack']);
    expect(clock.now().toISOString()).toBe('2026-11-03T09:01:00.000Z');
    // The rest of the way in real time: the next deadline fires by the wall clock.
    vi.advanceTimersByTime(2 * 24 * 3_600_000);
    expect(fired).toEqual(['ack', 'resolve']);
    expect(clock.offsetMs).toBe(24 * 3_600_000);
  });

  it('does not fire a cancelled callback, and refuses to move backwards', () => {
    vi.useFakeTimers({ now: new Date('2026-11-02T09:00:00Z') });
    const clock = new DrillClock();
    const fn = vi.fn();
    const cancel = clock.schedule(new Date('2026-11-02T10:00:00Z'), fn);
    cancel();
    clock.advance(2 * 3_600_000);
    vi.advanceTimersByTime(10);
    expect(fn).not.toHaveBeenCalled();
    expect(() => clock.advance(-1)).toThrow(/only moves forward/);
    expect(() => clock.advance(Number.NaN)).toThrow(/only moves forward/);
  });
});

describe('parseDuration', () => {
  it.each([
    ['25h', 90_000],
    ['1d2h30m', 95_400],
    ['90s', 90],
    ['3600', 3600],
    ['2h1d', 2 * 3600 + 86_400],
  ])('%s is %i s', (text, seconds) => expect(parseDuration(text)).toBe(seconds));

  it.each(['', 'h', '25x', '1h1h', '-5h', '1.5h', '25 h'])('refuses %j naming the field', (text) => {
    expect(() => parseDuration(text)).toThrow(expect.objectContaining({ kind: 'invalid', field: 'duration' }));
  });
});
