import { CordonError } from '../../proto/runtime/CordonError.js';

/** A value JSON can hold, as it comes back from a `_json` column. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Turns anything JSON.stringify accepts into plain JSON data, with the same
 * rules (a Date becomes its ISO string, undefined fields are dropped), but
 * refuses instead of silently degrading: NaN and Infinity (which JSON.stringify
 * would write as null), bigint, cycles and a top-level undefined throw
 * `invalid` naming `field`.
 */
export function toJson(value: unknown, field: string): Json {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`${v} is not a JSON number`);
      return v;
    });
  } catch (err) {
    throw new CordonError('invalid', `cannot be stored as JSON: ${(err as Error).message}`, { field });
  }
  if (text === undefined) throw new CordonError('invalid', 'cannot be stored as JSON: no value', { field });
  return JSON.parse(text) as Json;
}

/**
 * One spelling per value: object keys sorted (by UTF-16 code unit), no
 * whitespace. Equal data gives equal text, so the text can be hashed
 * (AuditLog) or compared (DesiredStateRepo).
 */
export function canonicalJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** toJson then canonicalJson: what a `_json` column stores. */
export function storeJson(value: unknown, field: string): string {
  return canonicalJson(toJson(value, field));
}
