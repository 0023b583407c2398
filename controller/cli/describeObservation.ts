import type { EnforcementObservation } from '../../proto/gen/cordon/v1/desk.js';
import { oneLine } from './table.js';

/** Upper case where the desk must look: a restriction or a lift nobody confirmed. */
const WORDS: Record<string, string> = {
  none: 'nothing in force',
  confirmed: 'confirmed',
  switch_only: 'cut at the SWITCH ONLY',
  unconfirmed: 'NOT CONFIRMED',
  lifting: 'lift NOT CONFIRMED',
};

/** One observation in a word or two (a table cell), with since when. */
export function observationCell(o: EnforcementObservation | undefined): string {
  if (!o) return '-';
  return `${o.observed}${o.since && o.observed !== 'none' ? ` since ${o.since.toISOString()}` : ''}`;
}

/** One observation in words, with its reason and since when. */
export function describeObservation(o: EnforcementObservation | undefined): string {
  if (!o) return 'not observed (this controller does not say)';
  return `${WORDS[o.observed] ?? o.observed}${o.since ? ` since ${o.since.toISOString()}` : ''}: ${oneLine(o.reason)}`;
}
