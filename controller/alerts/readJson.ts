import { CordonError } from '../../proto/runtime/CordonError.js';

/** Small readers for a parsed JSON body: each throws an `invalid` CordonError naming the field (`[0].source.ip`). */
export type Json = Record<string, unknown>;

const bad = (field: string, message: string): never => {
  throw new CordonError('invalid', message, { field });
};

export function object(v: unknown, field: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(field, 'must be an object');
  return v as Json;
}

export function string(o: Json, key: string, at: string, { required = false, max = 4096 } = {}): string | undefined {
  const v = o[key];
  const field = `${at}.${key}`.replace(/^\./, '');
  if (v === undefined || v === null || v === '') return required ? bad(field, 'is required') : undefined;
  if (typeof v !== 'string') return bad(field, 'must be a string');
  if (v.length > max) bad(field, `is longer than ${max} characters`);
  return v;
}

/** A count: a non-negative integer, or a string of digits (FastNetMon's arguments are strings). */
export function count(o: Json, key: string, at: string): number | undefined {
  const v = o[key];
  const field = `${at}.${key}`.replace(/^\./, '');
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return bad(field, 'must be a non-negative integer');
  return n;
}

/** A timestamp (RFC 3339, any offset; read as the instant it names). */
export function time(o: Json, key: string, at: string): Date | undefined {
  const s = string(o, key, at, { max: 64 });
  if (s === undefined) return undefined;
  const d = new Date(s);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(s) || Number.isNaN(d.getTime())) return bad(`${at}.${key}`.replace(/^\./, ''), `${JSON.stringify(s.slice(0, 40))} is not an RFC 3339 time`);
  return d;
}

export function list(o: Json, key: string, at: string, max: number): unknown[] {
  const v = o[key];
  const field = `${at}.${key}`.replace(/^\./, '');
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return bad(field, 'must be a list');
  if (v.length > max) bad(field, `has more than ${max} entries`);
  return v;
}

/** Text from a detector, for evidence: control characters out, at most `max` characters. */
export function clean(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}
