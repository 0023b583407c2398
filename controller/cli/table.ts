/** Renders rows as a plain aligned table, for people; scripts use --json. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** A span of seconds in its largest sensible unit: 45s, 12m, 5h, 3d. */
function span(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** "12s ago" style age for timestamps in tables; `now` is the incident clock's for incident times (deskNow.ts). */
export function age(date: Date | undefined, now: Date): string {
  if (!date) return '-';
  return `${span(Math.max(0, Math.round((now.getTime() - date.getTime()) / 1000)))} ago`;
}

/** A deadline against `now`: "in 5h", or "overdue 2d" once passed. */
export function dueIn(date: Date | undefined, now: Date): string {
  if (!date) return '-';
  const s = Math.round((date.getTime() - now.getTime()) / 1000);
  return s >= 0 ? `in ${span(s)}` : `overdue ${span(-s)}`;
}

/** Control characters (and bidi overrides) in what others wrote must not drive the operator's terminal. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '?');
}

/** One line: newlines and tabs too become visible, so a field cannot forge the next row. */
export function oneLine(s: string): string {
  return printable(s.replace(/\r\n|\r|\n/g, ' ⏎ ').replace(/\t/g, ' '));
}
