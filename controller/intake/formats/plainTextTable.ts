import { canonicalIp } from '../canonicalIp.js';

/** One row of a table in a notice: the offender column's address, and the row's time and type cells. */
export interface TableRow {
  ip: string;
  time: string | undefined;
  type: string | undefined;
  line: string;
  at: number;
}

/** Column names for the offender; names for the other side (dst, target, victim, honeypot, sensor) never match. */
const OFFENDER_COLUMN = /^(?:(?:source|src|attacker|attacking|offending|offender|abusive|infected|client|remote|reported|bad)[ _-]?)?(?:ip|ip[ _-]?addr(?:ess)?|addr(?:ess)?|host|ipv[46])$|^(?:source|src|attacker|offender)$/i;
const TIME_COLUMN = /^(?:time(?:stamp)?|date(?:[ _/-]?time)?|(?:first|last)[ _-]?seen|seen|detected|event[ _-]?time|time[ _-]?\(utc\)|date[ _-]?\(utc\)|utc)$/i;
const TYPE_COLUMN = /^(?:type|category|threat|classification|infection|malware|event|attack|activity|reason|description)$/i;

type Splitter = (line: string) => string[];

function pipeCells(line: string): string[] {
  return line.replace(/^\s*\|/, '').replace(/\|\s*$/, '').split('|').map((c) => c.trim());
}

/** A fixed-width row cut at the header's column starts. */
function fixedCells(header: string): Splitter {
  // A column starts at the line's first non-blank, and after a tab or two blanks; found in one pass (a regex
  // with a blank run before the column would backtrack quadratically over a line of blanks).
  const starts: number[] = [];
  let blanks = 0;
  let tab = false;
  for (let k = 0; k < header.length; k++) {
    const c = header[k]!;
    if (c === ' ' || c === '\t') {
      blanks++;
      tab ||= c === '\t';
      continue;
    }
    if (starts.length === 0 || blanks >= 2 || tab) starts.push(k);
    blanks = 0;
    tab = false;
  }
  return (line) => starts.map((s, i) => line.slice(s, starts[i + 1] ?? line.length).trim());
}

/** An address cell: "192.0.2.5", "192.0.2.5:443", "[2001:db8::5]:443". */
function cellIp(cell: string): string | undefined {
  const token = cell.split(/\s+/)[0] ?? '';
  return canonicalIp(token) ?? canonicalIp(token.replace(/^\[([^\]]+)\](?::\d+)?$/, '$1').replace(/^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/, '$1'));
}

/** The tables of a notice: their offender rows, where their lines are, and the addresses of their other columns. */
export interface NoticeTables {
  rows: TableRow[];
  /** [start, end) offsets of each table's header and rows: prose rules do not read inside them. */
  spans: [number, number][];
  /** Addresses in any other column (destination, target, sensor…): never an offender. */
  others: string[];
}

/**
 * Rows of the pipe-separated and fixed-width tables in `text` whose header
 * names an offender column (ip, source ip, src, attacker, address, host…).
 * A table ends at a blank line or a row its header cannot cut. Rows whose
 * offender cell is no single address are skipped.
 */
export function readTables(text: string): NoticeTables {
  const lines = text.split('\n');
  const rows: TableRow[] = [];
  const spans: [number, number][] = [];
  const others: string[] = [];
  let offset = 0;
  const offsets = lines.map((l) => {
    const at = offset;
    offset += l.length + 1;
    return at;
  });
  for (let i = 0; i < lines.length; i++) {
    const header = lines[i]!.replace(/\r$/, '');
    const piped = (header.match(/\|/g)?.length ?? 0) >= 1;
    const split: Splitter = piped ? pipeCells : fixedCells(header);
    const names = split(header);
    if (names.length < 2) continue;
    const ipCol = names.findIndex((n) => OFFENDER_COLUMN.test(n));
    if (ipCol < 0) continue;
    const timeCol = names.findIndex((n) => TIME_COLUMN.test(n));
    const typeCol = names.findIndex((n) => TYPE_COLUMN.test(n));
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!.replace(/\r$/, '');
      if (!line.trim()) break;
      if (/^[\s|:+=-]+$/.test(line)) continue; // a rule under the header
      if (piped !== line.includes('|')) break;
      const cells = split(line);
      cells.forEach((c, k) => {
        const other = k === ipCol ? undefined : cellIp(c);
        if (other) others.push(other);
      });
      const ip = cellIp(cells[ipCol] ?? '');
      if (!ip) continue;
      rows.push({ ip, time: timeCol >= 0 ? cells[timeCol] : undefined, type: typeCol >= 0 ? cells[typeCol] : undefined, line: line.trim(), at: offsets[j]! });
    }
    if (j > i + 1) spans.push([offsets[i]!, j < lines.length ? offsets[j]! : text.length]);
    i = j - 1;
  }
  return { rows, spans, others };
}
