import type { ClockReading } from '../../../proto/gen/cordon/v1/desk.js';
import { html, type SafeHtml } from '../customer/html.js';
import { when } from './deskLayout.js';

/** How far the incident clock may run from the wall clock before the page says whose clock it reads (as cordonctl's deskNow). */
const DRIFT_MS = 60_000;

/** The incident clock as a page reads it: ages and due times are measured from `now`, never from the browser's or the wall clock. */
export interface DeskTime {
  now: Date;
  /** The controller runs a drill clock (clock.drill): AdvanceClock moves it. */
  drill: boolean;
  /** The incident clock runs more than a minute from the wall clock (a drill, or a test's clock): times say whose they are. */
  apart: boolean;
  /** Incident clock minus wall clock, in seconds. */
  offsetSeconds: number;
}

/** GetClock's answer, read once per page. */
export function deskTimeOf(r: ClockReading, wall: Date = new Date()): DeskTime {
  const now = r.now ?? wall;
  const offsetMs = now.getTime() - wall.getTime();
  return { now, drill: r.drill, apart: r.drill || Math.abs(offsetMs) > DRIFT_MS, offsetSeconds: Math.round(offsetMs / 1000) };
}

/** A span of seconds in its largest sensible unit: "45 s", "12 min", "5 h", "3 d". */
export function span(seconds: number): string {
  const s = Math.abs(Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

const mark = (t: DeskTime) => (t.apart ? ', incident clock' : '');

/** "due in 3 h" or "overdue by 2 d", with ", incident clock" when that clock runs apart. */
export function dueWords(d: Date | undefined, t: DeskTime): string {
  if (!d) return '';
  const s = (d.getTime() - t.now.getTime()) / 1000;
  return `${s >= 0 ? `due in ${span(s)}` : `overdue by ${span(s)}`}${mark(t)}`;
}

/** "3 d ago", with ", incident clock" when that clock runs apart. */
export function agoWords(d: Date | undefined, t: DeskTime): string {
  if (!d) return '';
  return `${span(Math.max(0, (t.now.getTime() - d.getTime()) / 1000))} ago${mark(t)}`;
}

/** An absolute time (UTC) with how long ago it was: "2026-11-02 09:00:00 UTC (3 h ago)". */
export function whenAgo(d: Date | undefined, t: DeskTime): SafeHtml | string {
  return d ? html`${when(d)} <span class="age">(${agoWords(d, t)})</span>` : '—';
}

/** An absolute deadline (UTC) with how far off it is: "2026-11-05 09:00:00 UTC (due in 3 d)". */
export function whenDue(d: Date | undefined, t: DeskTime): SafeHtml | string {
  return d ? html`${when(d)} <span class="due">(${dueWords(d, t)})</span>` : '—';
}

/** What the operator must know before reading any time on the page: drill mode, or a clock that runs apart. */
export function clockNotice(t: DeskTime): SafeHtml | string {
  if (!t.apart) return '';
  const how = `${span(t.offsetSeconds)} ${t.offsetSeconds >= 0 ? 'ahead of' : 'behind'} the controller's wall clock`;
  return t.drill
    ? html`<p class="clock" id="clock">Drill mode is on: the incident clock reads ${when(t.now)}, ${how}. Deadlines, ages and due times on this page are the incident clock's.</p>`
    : html`<p class="clock" id="clock">The incident clock reads ${when(t.now)}, ${how}. Deadlines, ages and due times on this page are the incident clock's.</p>`;
}
