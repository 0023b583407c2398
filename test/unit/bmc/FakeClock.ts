import type { PacerClock } from '../../../controller/bmc/BmcPacer.js';

/** A PacerClock that moves only on `advance`, waking the sleepers that come due. */
export class FakeClock implements PacerClock {
  private t: number;
  private sleepers: { at: number; wake: () => void }[] = [];

  constructor(start = Date.parse('2026-03-01T10:00:00Z')) {
    this.t = start;
  }

  now(): Date {
    return new Date(this.t);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = { at: this.t + ms, wake: resolve };
      this.sleepers.push(entry);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== entry);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** How many sleeps are pending. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  advance(ms: number): void {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.at <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.at > this.t);
    for (const s of due) s.wake();
  }
}

/** Lets pending promise chains run (several turns: the pacer awaits a few in a row). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}
