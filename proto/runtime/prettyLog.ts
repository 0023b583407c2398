import type { Writable } from 'node:stream';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every line has, shown in the prefix or not at all. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'component', 'v']);

/**
 * Renders one pino JSON line for a person at a terminal:
 * `12:00:01.234 INFO  controller/incidents: escalated incident=… host=web-01`.
 * A line that is not JSON is passed through unchanged, so nothing is lost.
 */
export function formatPrettyLine(line: string, colour: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  if (rec === null || typeof rec !== 'object') return `${line}\n`;
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const name = [rec.name, rec.component].filter((x) => typeof x === 'string' && x).join('/');
  const fields = Object.entries(rec)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  const levelText = LEVEL_NAMES[level] ?? String(level);
  const paint = (code: string, s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  return `${time} ${paint(COLOURS[level] ?? '0', levelText)} ${name}: ${String(rec.msg ?? '')}${fields.length ? ' ' + paint('2', fields.join(' ')) : ''}\n`;
}

/** A pino destination that writes pretty lines to `out` (a TTY gets colour). */
export function prettyDestination(out: Writable & { isTTY?: boolean }): { write(chunk: string): boolean } {
  const colour = out.isTTY === true && !process.env.NO_COLOR;
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) out.write(formatPrettyLine(line, colour));
      return true;
    },
  };
}
