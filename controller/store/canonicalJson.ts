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

/**
 * What a `_json` column stores: the same text as canonicalJson(toJson(value)),
 * refusing the same values, in one walk instead of three (stringify with a
 * replacer, parse, stringify again). Every row a mass action writes goes
 * through here. test/unit/store/canonicalJson.test.ts holds the two equal.
 */
export function storeJson(value: unknown, field: string): string {
  let text: string | undefined;
  try {
    text = canonicalText(value, '', new Set());
  } catch (err) {
    throw new CordonError('invalid', `cannot be stored as JSON: ${(err as Error).message}`, { field });
  }
  if (text === undefined) throw new CordonError('invalid', 'cannot be stored as JSON: no value', { field });
  return text;
}

/** JSON.stringify's walk (toJSON, boxed primitives, undefined and functions left out), keys sorted, refusing what toJson refuses. */
function canonicalText(input: unknown, key: string, ancestors: Set<object>): string | undefined {
  let value = input;
  if (((typeof value === 'object' && value !== null) || typeof value === 'bigint') && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: (key: string) => unknown }).toJSON(key);
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new Error('Do not know how to serialize a BigInt');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  // As JSON.stringify, a boxed primitive is its value (a boxed NaN is null: toJson's check sees the box, not a number).
  if (value instanceof Number) return JSON.stringify(Number(value));
  if (value instanceof String) return JSON.stringify(String(value));
  if (value instanceof Boolean) return value.valueOf() ? 'true' : 'false';
  const object = value as object;
  if (ancestors.has(object)) throw new Error('Converting circular structure to JSON');
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      const parts: string[] = [];
      for (let i = 0; i < object.length; i++) parts.push(canonicalText(object[i], String(i), ancestors) ?? 'null');
      return `[${parts.join(',')}]`;
    }
    const record = object as Record<string, unknown>;
    const parts: string[] = [];
    for (const k of Object.keys(record).sort()) {
      const v = canonicalText(record[k], k, ancestors);
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${v}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    ancestors.delete(object);
  }
}
