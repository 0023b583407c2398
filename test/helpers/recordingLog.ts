import { pino, type Logger } from 'pino';

export interface RecordedLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger whose JSON lines land in an array, to assert on what a component logged. */
export function recordingLog(level = 'debug'): { log: Logger; lines: RecordedLine[] } {
  const lines: RecordedLine[] = [];
  const log = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as RecordedLine) });
  return { log, lines };
}
