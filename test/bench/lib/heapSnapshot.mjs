// Sums a V8 heap snapshot (.heapsnapshot, as v8.writeHeapSnapshot writes it)
// by constructor name: what the live JS heap holds, after the full GC the
// snapshot forces. Used by fleet.mjs --profile to say what the heap keeps per
// agent stream; a sampling heap profile gives allocation sites, not owners.
import { readFileSync } from 'node:fs';

/** [{ name, type, count, selfBytes }] sorted by selfBytes, largest first. */
export function heapByConstructor(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const { node_fields: fields, node_types: [types] } = snap.snapshot.meta;
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const groups = new Map();
  const { nodes, strings } = snap;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    // Strings, code and arrays are grouped by type: their "names" are contents.
    const name = type === 'object' || type === 'closure' || type === 'native' ? `${strings[nodes[i + iName]]}` : `(${type})`;
    const key = `${type}\u0000${name}`;
    const g = groups.get(key) ?? { name, type, count: 0, selfBytes: 0 };
    g.count++;
    g.selfBytes += nodes[i + iSize];
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => b.selfBytes - a.selfBytes);
}

/**
 * A printable summary: the top groups, with count and bytes per agent when
 * `perAgent` is given; with `baseline` (a snapshot of the same process before
 * the agents came), the growth over it, which is what the agents cost.
 */
export function heapSnapshotSummary(file, { top = 25, perAgent, baseline } = {}) {
  let groups = heapByConstructor(file);
  if (baseline) {
    const before = new Map(heapByConstructor(baseline).map((g) => [`${g.type}\u0000${g.name}`, g]));
    groups = groups
      .map((g) => {
        const b = before.get(`${g.type}\u0000${g.name}`);
        return { ...g, count: g.count - (b?.count ?? 0), selfBytes: g.selfBytes - (b?.selfBytes ?? 0) };
      })
      .sort((a, b) => b.selfBytes - a.selfBytes);
  }
  const total = groups.reduce((s, g) => s + g.selfBytes, 0);
  const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;
  const lines = [`    heap snapshot ${file}: ${(total / 1048576).toFixed(0)} MiB live after a full GC${baseline ? ' over the baseline snapshot' : ''}${perAgent ? ` (${kib(total / perAgent)} per agent)` : ''}, native memory Node reports to the snapshot included`];
  for (const g of groups.slice(0, top)) {
    const per = perAgent ? `  ${(g.count / perAgent).toFixed(1)} per agent, ${(g.selfBytes / perAgent).toFixed(0)} B per agent` : '';
    lines.push(`      ${kib(g.selfBytes).padStart(12)} ${String(g.count).padStart(8)}  ${g.name.slice(0, 60)}${per}`);
  }
  return lines.join('\n');
}
