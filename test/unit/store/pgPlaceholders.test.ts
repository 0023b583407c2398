import { describe, expect, it } from 'vitest';
import { numberPlaceholders } from '../../../controller/store/pg/placeholders.js';

const text = (sql: string, params: Parameters<typeof numberPlaceholders>[1] = []) => numberPlaceholders(sql, params).text;

/** The repositories write `?` and `$name`; PostgreSQL wants `$1..$n`, and only where SQL has a parameter. */
describe('numberPlaceholders', () => {
  it('numbers ? in order and keeps the values', () => {
    expect(numberPlaceholders('SELECT * FROM t WHERE a = ? AND b IN (?, ?)', ['x', 2, null])).toEqual({
      text: 'SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)',
      values: ['x', 2, null],
    });
  });

  it("leaves ? alone inside string literals, doubled quotes and E'…' backslash escapes", () => {
    expect(text("SELECT 'a?b', 'it''s ?', ? FROM t", [1])).toBe("SELECT 'a?b', 'it''s ?', $1 FROM t");
    expect(text("SELECT E'\\'?\\'', ?", [1])).toBe("SELECT E'\\'?\\'', $1");
    expect(text("SELECT e'x\\\\', ?", [1])).toBe("SELECT e'x\\\\', $1");
    // A plain literal ending in a backslash is not an escape (standard_conforming_strings).
    expect(text("SELECT 'C:\\', ?", [1])).toBe("SELECT 'C:\\', $1");
    // A word ending in e before a quote is not an E'…' prefix.
    expect(text("SELECT some'\\', ?", [1])).toBe("SELECT some'\\', $1");
  });

  it('leaves ? alone in quoted identifiers and comments, including nested block comments', () => {
    expect(text('SELECT "wh?t" ""? FROM t', [1])).toBe('SELECT "wh?t" ""$1 FROM t');
    expect(text('SELECT ? -- why?\n, ?', [1, 2])).toBe('SELECT $1 -- why?\n, $2');
    expect(text('SELECT /* a? /* b? */ c? */ ?', [1])).toBe('SELECT /* a? /* b? */ c? */ $1');
    expect(text('SELECT 1 -- trailing ?', [])).toBe('SELECT 1 -- trailing ?');
  });

  it('leaves dollar-quoted bodies alone, with or without a tag', () => {
    const fn = 'CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION \'no ? here\'; END $$ LANGUAGE plpgsql';
    expect(text(fn)).toBe(fn);
    expect(text('SELECT $body$ ? $x $$ $body$, ?', [1])).toBe('SELECT $body$ ? $x $$ $body$, $1');
  });

  it('numbers named $name parameters once each, however often they appear', () => {
    expect(numberPlaceholders('UPDATE t SET a = $a, b = $b WHERE a <> $a', { $a: 1, $b: 'two', $unused: 3 })).toEqual({
      text: 'UPDATE t SET a = $1, b = $2 WHERE a <> $1',
      values: [1, 'two'],
    });
    expect(text("SELECT '$a', $a", { $a: 1 })).toBe("SELECT '$a', $1");
  });

  it('keeps $ inside identifiers and casts as they are', () => {
    expect(text('SELECT a$b, ?::bigint FROM t', [1])).toBe('SELECT a$b, $1::bigint FROM t');
  });

  it('refuses SQL and parameters that disagree (invalid), rather than send them', () => {
    const fails = (sql: string, params: Parameters<typeof numberPlaceholders>[1], why: RegExp) =>
      expect(() => numberPlaceholders(sql, params)).toThrow(expect.objectContaining({ kind: 'invalid', message: expect.stringMatching(why) }));
    fails('SELECT ?, ?', [1], /more \? than the 1 values/);
    fails('SELECT ?', [1, 2], /1 \? for 2 values/);
    fails('SELECT $a', { $b: 1 }, /no value for \$a/);
    fails('SELECT $a', [1], /named parameter \$a with positional/);
    fails('SELECT ?', { $a: 1 }, /\? with named values/);
    fails('SELECT $1', [1], /not PostgreSQL's \$1/);
    fails("SELECT 'open", [], /unterminated string literal/);
    fails('SELECT "open', [], /unterminated quoted identifier/);
    fails('SELECT $$ open', [], /unterminated dollar-quoted/);
    fails('SELECT /* open', [], /unterminated \/\* comment/);
  });
});
