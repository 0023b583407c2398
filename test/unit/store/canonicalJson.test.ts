import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditHash } from '../../../controller/store/AuditLog.js';
import { canonicalJson, storeJson, toJson } from '../../../controller/store/canonicalJson.js';
import { Database } from '../../../controller/store/Database.js';
import { AuditLog } from '../../../controller/store/AuditLog.js';

/** What storeJson was before its single walk: the reference it is held to. */
function reference(value: unknown): string {
  return canonicalJson(toJson(value, 'f'));
}
const outcome = (fn: () => string) => {
  try {
    return { text: fn() };
  } catch (err) {
    return { error: (err as { kind?: string }).kind ?? 'thrown' };
  }
};

class WithToJson {
  constructor(private readonly v: unknown) {}
  toJSON(key: string) {
    return { key, v: this.v };
  }
}

describe('storeJson: one walk, the same text as canonicalJson(toJson(value))', () => {
  it('for anything fast-check makes, plus dates, toJSON, boxed values, holes and odd numbers', () => {
    const odd = fc.oneof(
      fc.constant(undefined),
      fc.constant(NaN),
      fc.constant(-0),
      fc.constant(1e21),
      fc.constant(Infinity),
      fc.constant(10n),
      fc.constant(() => 1),
      fc.constant(Symbol('s')),
      fc.date({ noInvalidDate: false }),
      fc.string().map((s) => new String(s)),
      fc.double().map((n) => new Number(n)),
      fc.boolean().map((b) => new Boolean(b)),
      fc.anything().map((v) => new WithToJson(v)),
      fc.constant([1, , 3]),
      fc.string({ unit: 'binary' }),
      fc.constant('\ud800 lone'),
      fc.constant(new Map([[1, 2]])),
      fc.constant(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])),
    );
    const values = fc.oneof(fc.anything({ withDate: true, withBoxedValues: true, withNullPrototype: true, withSparseArray: true, withTypedArray: true }), odd, fc.dictionary(fc.string(), odd), fc.array(odd));
    fc.assert(
      fc.property(values, (v) => {
        expect(outcome(() => storeJson(v, 'f'))).toEqual(outcome(() => reference(v)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses what toJson refuses, naming the field', () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = { back: cycle };
    for (const bad of [NaN, { n: Infinity }, [1n], cycle, undefined, () => 1]) {
      expect(() => storeJson(bad, 'detail')).toThrow(expect.objectContaining({ kind: 'invalid', field: 'detail', message: expect.stringMatching(/^detail: cannot be stored as JSON: /) }));
    }
    // The same object twice, not inside itself, is no cycle.
    const shared = { x: 1 };
    expect(storeJson({ a: shared, b: [shared] }, 'f')).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });

  it('the audit chain hashes the stored text as auditHash does from the parsed row, so verify() agrees', async () => {
    const db = await Database.openMemory();
    try {
      const audit = new AuditLog(db);
      const detail = { z: [1, { b: 'é\u2028', a: null }], a: new Date(0), skip: undefined, n: -0 };
      const [{ id, hash }] = [await audit.append({ at: new Date(5), actor: 'olga "the op"', action: 'a.b', subject: 'web-01', detail })];
      const [row] = await audit.list({ subject: 'web-01' });
      expect(auditHash(row!.prevHash, { id, at: 5, actor: row!.actor, action: row!.action, subject: row!.subject, detail: row!.detail })).toBe(hash);
      expect((await audit.verify()).ok).toBe(true);
    } finally {
      await db.close();
    }
  });
});
