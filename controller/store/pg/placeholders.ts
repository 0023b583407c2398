import { CordonError } from '../../../proto/runtime/CordonError.js';
import type { SqlParams, SqlValue } from '../SqlDatabase.js';

export interface NumberedQuery {
  /** The SQL with PostgreSQL's `$1..$n`. */
  text: string;
  values: SqlValue[];
}

const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;
const NAME_START = /[A-Za-z_]/;
const NAME = /[A-Za-z0-9_]/;

/**
 * Rewrites the repositories' parameters into PostgreSQL's: each `?` becomes
 * `$1`, `$2`… in order, and each named `$name` (keys of `params` include the
 * `$`, as for node-sqlite3) becomes one number however often it appears.
 * Nothing changes inside string literals ('…', E'…' with backslash
 * escapes), quoted identifiers ("…"), dollar-quoted bodies ($$…$$,
 * $tag$…$tag$) and comments (-- and nested /* … *\/).
 *
 * There is no escape for a literal `?` operator (jsonb's `?`, `?|`, `?&`):
 * write `jsonb_exists(…)` and friends instead. `$1` in the text is refused,
 * as is mixing `?` with `$name`, a missing name, or a count that does not
 * match (`invalid`: the caller's SQL and parameters disagree).
 */
export function numberPlaceholders(sql: string, params: SqlParams = []): NumberedQuery {
  const named = !Array.isArray(params);
  const positional = params as readonly SqlValue[];
  const byName = params as Readonly<Record<string, SqlValue>>;
  const numbers = new Map<string, number>();
  const values: SqlValue[] = [];
  let out = '';
  let i = 0;
  let copied = 0;
  const replace = (start: number, end: number, text: string) => {
    out += sql.slice(copied, start) + text;
    copied = end;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "'") {
      // E'…' (and e'…') take backslash escapes; a plain literal only doubles its quote.
      const escapes = i > 0 && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && (i < 2 || !WORD.test(sql[i - 2]!));
      i = skipQuoted(sql, i, "'", escapes);
    } else if (c === '"') {
      i = skipQuoted(sql, i, '"', false);
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(sql, i);
    } else if (c === '$' && (i === 0 || !WORD.test(sql[i - 1]!))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        if (end < 0) throw invalid(`an unterminated dollar-quoted body ${tag[0]}`, sql);
        i = end + tag[0].length;
      } else if (next !== undefined && NAME_START.test(next)) {
        let end = i + 2;
        while (end < sql.length && NAME.test(sql[end]!)) end++;
        const name = sql.slice(i, end);
        if (!named) throw invalid(`named parameter ${name} with positional values`, sql);
        if (!Object.hasOwn(byName, name)) throw invalid(`no value for ${name}`, sql);
        let n = numbers.get(name);
        if (n === undefined) {
          values.push(byName[name]!);
          n = values.length;
          numbers.set(name, n);
        }
        replace(i, end, `$${n}`);
        i = end;
      } else if (next !== undefined && /[0-9]/.test(next)) {
        throw invalid('write ? or $name, not PostgreSQL\'s $1', sql);
      } else {
        i++;
      }
    } else if (c === '?') {
      if (named) throw invalid('? with named values', sql);
      if (values.length >= positional.length) throw invalid(`more ? than the ${positional.length} values given`, sql);
      values.push(positional[values.length]!);
      replace(i, i + 1, `$${values.length}`);
      i++;
    } else {
      i++;
    }
  }
  if (!named && values.length !== positional.length) throw invalid(`${values.length} ? for ${positional.length} values`, sql);
  return { text: out + sql.slice(copied), values };
}

/** The index just past a literal or identifier opened by `quote` at `start` (a doubled quote stays inside). */
function skipQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i]!;
    if (backslashEscapes && c === '\\') i += 2;
    else if (c === quote && sql[i + 1] === quote) i += 2;
    else if (c === quote) return i + 1;
    else i++;
  }
  throw invalid(`an unterminated ${quote === "'" ? 'string literal' : 'quoted identifier'}`, sql);
}

/** PostgreSQL's block comments nest, unlike C's. */
function skipBlockComment(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  throw invalid('an unterminated /* comment', sql);
}

function invalid(what: string, sql: string): CordonError {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return new CordonError('invalid', `${what} (in ${flat.length > 60 ? `${flat.slice(0, 57)}...` : flat})`);
}
