import { AdvanceClockResponse } from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { DeskClient } from './deskClient.js';

const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 };

/**
 * "25h", "1d2h30m", "90s" or a bare number of seconds, to seconds. Units in
 * any order but each at most once; nothing else is accepted, so a typo never
 * becomes a surprising jump.
 */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const parts = [...t.matchAll(/(\d+)([dhms])/g)];
  const seen = new Set<string>();
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t || parts.some((p) => seen.size === seen.add(p[2]!).size)) {
    throw new CordonError('invalid', `not a duration: ${JSON.stringify(text)} (use e.g. 25h, 1d2h, 90m, 3600)`, { field: 'duration' });
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_SECONDS[p[2]!]!, 0);
}

/** `cordonctl clock advance DURATION [--reason R]` (drill mode only). */
export async function clockCommand(client: DeskClient, words: string[], reason: string | undefined, asJson: boolean, out: (t: string) => void): Promise<number> {
  const [, verb, duration] = words;
  if (verb !== 'advance' || !duration || words.length > 3) {
    throw new CordonError('invalid', 'usage: cordonctl clock advance DURATION [--reason R]', { field: 'command' });
  }
  const seconds = parseDuration(duration);
  const r = await client.call<unknown, AdvanceClockResponse>('advanceClock', { seconds: BigInt(seconds), reason: reason ?? '' });
  out(asJson ? JSON.stringify(AdvanceClockResponse.toJSON(r), null, 2) + '\n' : `controller clock now ${r.now?.toISOString()} (${r.offsetSeconds} s ahead of the wall clock)\n`);
  return 0;
}
