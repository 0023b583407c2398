import { createHash, timingSafeEqual } from 'node:crypto';
import type { AlertSource } from './alertsSettings.js';

const digest = (b: Buffer | string) => createHash('sha256').update(b).digest();

/**
 * The source whose token an `Authorization: Bearer <token>` header carries,
 * or why none: `missing` (no or malformed header), `wrong` (no source has
 * it). Every source's token is compared, in constant time, on digests of
 * equal length, so neither the answer's timing nor a token's length tells
 * anything.
 */
export function authenticateSource(header: string | undefined, sources: readonly AlertSource[]): AlertSource | 'missing' | 'wrong' {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return 'missing';
  const given = digest(m[1]!);
  let found: AlertSource | undefined;
  for (const s of sources) if (timingSafeEqual(given, digest(s.token)) && !found) found = s;
  return found ?? 'wrong';
}
