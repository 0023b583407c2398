import type { Writable } from 'node:stream';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every line has, shown in the prefix or not at all. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'component', 'v']);

/** Control characters (C0 but tab, DEL, C1): a logged field may carry a report's or a peer's text, and an escape sequence in it must not reach the terminal. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;
const visible = (text: string) => text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * Renders one pino JSON line for a person at a terminal:
 * `12:00:01.234 INFO  controller/incidents: escalated incident=… host=web-01`.
 * A line that is not JSON is shown as it is (its control characters escaped, as everywhere), so nothing is lost.
 */
export function formatPrettyLine(line: string, colour: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    const text = line.endsWith('\n') ? line.slice(0, -1) : line;
    return `${visible(text)}\n`;
  }
  if (rec === null || typeof rec !== 'object') return `${visible(line)}\n`;
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const name = [rec.name, rec.component].filter((x) => typeof x === 'string' && x).join('/');
  const fields = Object.entries(rec)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => visible(`${k}=${typeof v === 'string' && !/[\s\u0000-\u001f\u007f-\u009f]/.test(v) ? v : JSON.stringify(v)}`));
  const levelText = LEVEL_NAMES[level] ?? String(level);
  const paint = (code: string, s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  return `${time} ${paint(COLOURS[level] ?? '0', levelText)} ${visible(name)}: ${visible(String(rec.msg ?? ''))}${fields.length ? ' ' + paint('2', fields.join(' ')) : ''}\n`;
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
