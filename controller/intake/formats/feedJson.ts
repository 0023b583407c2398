import { IntakeLimitError, checkLimit, type IntakeLimits } from '../limits.js';
import { feedKey, type FeedKey } from './feedColumns.js';

/**
 * JSON feeds: a JSON text (RFC 8259) that is an array of records or an
 * object holding one (`{"data":[…]}`, `{"events":[…]}`, `{"result":
 * {"items":[…]}}`), or a sequence of records: JSON Lines (one per line) and
 * JSON text sequences (RFC 7464, each record after an RS, 0x1E). A record
 * is an object; its nested keys become paths (`{"source":{"ip":…}}` is
 * `source.ip`). The scalars of an object around the records (`{"ip": …,
 * "reports": [{…}]}`) hold for each of them, after their own keys.
 */

export interface JsonRecord {
  keys: FeedKey[];
  values: string[];
  /** The record as it was written, for its customer. */
  text: string;
}

export interface JsonFeed {
  kind: 'json' | 'jsonl';
  records: JsonRecord[];
}

/** Keys read from one record at most: a record with thousands of keys is not a feed row. */
const MAX_KEYS = 500;
/** How deep, from the top, records are looked for inside an object. */
const RECORDS_DEPTH = 4;

/**
 * Throws IntakeLimitError when arrays and objects nest deeper than
 * intake.limits.jsonDepth anywhere in `text`. One pass, before JSON.parse
 * builds anything: brackets inside strings do not count.
 */
export function checkJsonDepth(text: string, limits: IntakeLimits, where: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limits.jsonDepth) throw new IntakeLimitError('jsonDepth', depth, limits.jsonDepth, where, true);
    } else if ((c === 0x7d || c === 0x5d) && depth > 0) depth--;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function scalar(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Paths and values of an object's scalars; arrays of scalars joined with commas, of objects their first. */
function flatten(obj: Record<string, unknown>, prefix: string[], out: { keys: FeedKey[]; values: string[] }, skip?: unknown): void {
  for (const [k, v] of Object.entries(obj)) {
    if (out.keys.length >= MAX_KEYS) return;
    if (v === skip) continue;
    const path = [...prefix, k];
    const s = scalar(v);
    if (s !== undefined) {
      out.keys.push(feedKey(path));
      out.values.push(s);
    } else if (Array.isArray(v)) {
      const scalars = v.map(scalar).filter((x): x is string => x !== undefined);
      if (scalars.length > 0) {
        out.keys.push(feedKey(path));
        out.values.push(scalars.join(','));
      } else if (isObject(v[0])) flatten(v[0], path, out);
    } else if (isObject(v)) flatten(v, path, out, skip);
  }
}

/** The largest array of objects within RECORDS_DEPTH of `root`, and the path to it; shallower wins a tie. */
function findRecords(root: Record<string, unknown>): { array: Record<string, unknown>[]; path: string[] } | undefined {
  let best: { array: Record<string, unknown>[]; path: string[] } | undefined;
  let level: [Record<string, unknown>, string[]][] = [[root, []]];
  for (let depth = 0; depth < RECORDS_DEPTH && level.length > 0; depth++) {
    const next: [Record<string, unknown>, string[]][] = [];
    for (const [obj, path] of level) {
      for (const [k, v] of Object.entries(obj)) {
        if (Array.isArray(v) && v.length > 0 && v.every(isObject)) {
          if (!best || v.length > best.array.length) best = { array: v as Record<string, unknown>[], path: [...path, k] };
        } else if (isObject(v)) next.push([v, [...path, k]]);
      }
    }
    level = next;
  }
  return best;
}

function record(obj: Record<string, unknown>, context: { keys: FeedKey[]; values: string[] }): JsonRecord {
  const out = { keys: [] as FeedKey[], values: [] as string[] };
  flatten(obj, [], out);
  return { keys: [...out.keys, ...context.keys], values: [...out.values, ...context.values], text: JSON.stringify(obj) };
}

/** The records of a parsed JSON text, within intake.limits.rows. */
function recordsOf(doc: unknown, limits: IntakeLimits, where: string): JsonRecord[] {
  const none = { keys: [], values: [] };
  if (Array.isArray(doc)) {
    checkLimit(limits, 'rows', doc.length, where);
    return doc.filter(isObject).map((o) => record(o, none));
  }
  if (!isObject(doc)) return [];
  const found = findRecords(doc);
  if (!found) return [record(doc, none)];
  checkLimit(limits, 'rows', found.array.length, where);
  // Around the records: the wrapper's scalars (a feed name, a type, the one address all of them are about).
  const context = { keys: [] as FeedKey[], values: [] as string[] };
  flatten(doc, [], context, found.array);
  return found.array.map((o) => record(o, context));
}

/** A JSON feed in `text`, or undefined when it is no JSON text, no JSON Lines and no JSON text sequence. */
export function readJsonFeed(text: string, limits: IntakeLimits, where: string): JsonFeed | undefined {
  const body = text.replace(/^\uFEFF/, '').trim();
  if (!/^[[{\x1e]/.test(body)) return undefined;
  checkJsonDepth(body, limits, where);
  try {
    return { kind: 'json', records: recordsOf(JSON.parse(body), limits, where) };
  } catch (err) {
    if (err instanceof IntakeLimitError) throw err;
  }
  // JSON Lines / RFC 7464: every record on its own, each an object; one that is not makes it no such feed.
  const lines = body.split(/[\n\x1e]/).map((l) => l.trim()).filter((l) => l !== '');
  checkLimit(limits, 'rows', lines.length, where);
  const records: JsonRecord[] = [];
  for (const line of lines) {
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      return undefined;
    }
    if (!isObject(doc)) return undefined;
    records.push(record(doc, { keys: [], values: [] }));
  }
  return { kind: 'jsonl', records };
}
