// The hypervisor's share of this VM's CPU time (steal, /proc/stat): when a
// neighbour takes the cores, a benchmark's round slows for reasons not its own.
import { readFileSync } from 'node:fs';

/** The machine's CPU time so far, in ticks, and the ticks stolen. */
export function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
}

/** Percent of the machine's CPU time stolen between two `machineTicks()`. */
export const stealPct = (a, b) => (b.total > a.total ? (100 * (b.steal - a.steal)) / (b.total - a.total) : 0);
