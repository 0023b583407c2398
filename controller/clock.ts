/**
 * Time as the controller sees it. Injected everywhere a decision depends on
 * time, so tests (and the lab, which runs days in seconds) can move it.
 */
export interface Clock {
  now(): Date;
  /** Calls `fn` once when the clock reaches `at` (at once if past); returns a cancel function. */
  schedule(at: Date, fn: () => void): () => void;
}

/** Node's setTimeout holds at most ~24.8 days; longer waits re-arm. */
const MAX_TIMEOUT = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => new Date(),
  schedule(at, fn) {
    let timer: NodeJS.Timeout;
    const arm = () => {
      const wait = at.getTime() - Date.now();
      timer = setTimeout(wait > MAX_TIMEOUT ? arm : fn, Math.max(0, Math.min(wait, MAX_TIMEOUT)));
    };
    arm();
    return () => clearTimeout(timer);
  },
};

/**
 * A clock that moves only when told: `advance(ms)` or `set(date)` runs every
 * callback that has come due, in time order. For tests and accelerated demos.
 */
export class ManualClock implements Clock {
  private current: number;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;

  constructor(start: Date) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  schedule(at: Date, fn: () => void): () => void {
    const id = this.nextId++;
    if (at.getTime() <= this.current) {
      queueMicrotask(fn);
      return () => {};
    }
    this.timers.push({ at: at.getTime(), fn, id });
    return () => {
      this.timers = this.timers.filter((t) => t.id !== id);
    };
  }

  advance(ms: number): void {
    this.set(new Date(this.current + ms));
  }

  set(to: Date): void {
    this.current = Math.max(this.current, to.getTime());
    const due = this.timers.filter((t) => t.at <= this.current).sort((a, b) => a.at - b.at);
    this.timers = this.timers.filter((t) => t.at > this.current);
    for (const t of due) t.fn();
  }
}

/**
 * The wall clock plus an offset that only grows: `advance(ms)` moves it
 * forward and runs every callback that came due. A controller in drill mode
 * (`clock.drill`) runs on one, so a lab can let days of deadlines pass in
 * seconds while everything between the jumps runs in real time.
 */
export class DrillClock implements Clock {
  private offset = 0;
  private timers = new Map<number, { at: number; fn: () => void; timer: NodeJS.Timeout | undefined }>();
  private nextId = 1;

  constructor(private readonly wall: () => number = Date.now) {}

  now(): Date {
    return new Date(this.wall() + this.offset);
  }

  get offsetMs(): number {
    return this.offset;
  }

  schedule(at: Date, fn: () => void): () => void {
    const id = this.nextId++;
    const entry = { at: at.getTime(), fn, timer: undefined as NodeJS.Timeout | undefined };
    this.timers.set(id, entry);
    this.arm(id);
    return () => {
      clearTimeout(this.timers.get(id)?.timer);
      this.timers.delete(id);
    };
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`the clock only moves forward (asked ${ms} ms)`);
    this.offset += ms;
    for (const id of [...this.timers.keys()]) this.arm(id);
    for (const l of this.advanced) l(ms);
  }

  /** Calls `listener` after every move (other replicas are told: replicas/shareDrillClock). */
  onAdvance(listener: (ms: number) => void): void {
    this.advanced.push(listener);
  }

  private readonly advanced: ((ms: number) => void)[] = [];

  private arm(id: number): void {
    const entry = this.timers.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    const wait = entry.at - this.now().getTime();
    const fire = () => {
      if (!this.timers.delete(id)) return;
      entry.fn();
    };
    entry.timer = setTimeout(wait > MAX_TIMEOUT ? () => this.arm(id) : fire, Math.max(0, Math.min(wait, MAX_TIMEOUT)));
  }
}

/**
 * A drill clock's offset after a restart: the sum of the moves the audit log
 * records (`clock.advance`, detail.seconds), so a restarted drill controller
 * does not fall back to wall time behind the deadlines and events it wrote.
 */
export async function drillOffsetFromAudit(audit: { list(f: { subject?: string; afterId?: number; limit?: number }): Promise<{ id: number; action: string; detail: unknown }[]> }): Promise<number> {
  let seconds = 0;
  for (let afterId = 0; ; ) {
    const page = await audit.list({ subject: 'controller', afterId, limit: 1000 });
    for (const e of page) {
      const s = (e.detail as { seconds?: unknown } | null)?.seconds;
      if (e.action === 'clock.advance' && typeof s === 'number' && Number.isFinite(s) && s > 0) seconds += s;
    }
    if (page.length < 1000) return seconds * 1000;
    afterId = page.at(-1)!.id;
  }
}
