import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { untilAborted } from '../../proto/runtime/iterate.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** An endless source of fresh objects, like the messages of a stream that lives for weeks. */
async function* messages(refs: WeakRef<object>[]): AsyncGenerator<{ seq: number; payload: string }> {
  for (let seq = 0; ; seq++) {
    const m = { seq, payload: 'x'.repeat(100) };
    refs.push(new WeakRef(m));
    yield m;
  }
}

describe('untilAborted', () => {
  it('keeps no message once the loop has moved past it, however long the stream lives', async () => {
    const refs: WeakRef<object>[] = [];
    const ctl = new AbortController();
    let n = 0;
    for await (const m of untilAborted(messages(refs), ctl.signal)) {
      expect(m.seq).toBe(n);
      // One listener for the whole loop, not one per message.
      if (n === 1_000) expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(1);
      if (++n === 2_000) break;
    }
    await new Promise((r) => setImmediate(r));
    gc();
    // Before the fix every message stayed reachable from the one "aborted" promise.
    expect(refs.filter((r) => r.deref() !== undefined).length).toBeLessThan(10);
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
  });

  it('throws the abort reason while waiting for the next message, and leaves no listener', async () => {
    const ctl = new AbortController();
    const never: AsyncIterable<number> = { [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<number>>(() => {}) }) };
    const loop = (async () => {
      for await (const _ of untilAborted(never, ctl.signal)) void _;
    })();
    setTimeout(() => ctl.abort(new Error('stream ended')), 10);
    await expect(loop).rejects.toThrow('stream ended');
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
  });

  it('throws at once when already aborted', async () => {
    const ctl = new AbortController();
    ctl.abort(new Error('gone'));
    const it = untilAborted((async function* () { yield 1; })(), ctl.signal);
    await expect(it.next()).rejects.toThrow('gone');
  });
});
