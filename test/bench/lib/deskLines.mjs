// The benchmark's side of lib/operator.mjs: one JSON line per request on the
// child's stdin, answers matched by id on its stdout.
import { createInterface } from 'node:readline';

/** `desk(op, args)` for an operator.mjs child: resolves with its answer, rejects on its error or after 15 s. */
export function deskLines(operator) {
  const waiting = new Map();
  let nextId = 1;
  createInterface({ input: operator.stdout }).on('line', (line) => {
    const r = JSON.parse(line);
    waiting.get(r.id)?.(r);
    waiting.delete(r.id);
  });
  return (op, args = {}) =>
    new Promise((res, rej) => {
      const id = nextId++;
      const timer = setTimeout(() => rej(new Error(`operator ${op}: no answer in 15 s`)), 15_000);
      waiting.set(id, (r) => {
        clearTimeout(timer);
        if (r.ok) res(r);
        else rej(new Error(`${op}: ${r.error}`));
      });
      operator.stdin.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
}
