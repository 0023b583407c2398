import { describe, expect, it } from 'vitest';
import { isFirstLiveReplica } from '../../../controller/replicas/isFirstLiveReplica.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const row = (id: string, silentMs: number) => ({ id, listen: 'x:1', startedAt: NOW, seenAt: new Date(NOW.getTime() - silentMs) });
const repo = (rows: ReturnType<typeof row>[]) => ({ list: async () => rows });

describe('isFirstLiveReplica: who runs once-per-fleet scheduled work', () => {
  it('is the live replica whose id sorts first, byte by byte', async () => {
    const rows = [row('b-2', 0), row('a-1', 1_000), row('B-0', 0)];
    expect(await isFirstLiveReplica(repo(rows), 'B-0', NOW, 10_000)).toBe(true); // 'B' < 'a' < 'b'
    expect(await isFirstLiveReplica(repo(rows), 'a-1', NOW, 10_000)).toBe(false);
  });

  it('passes over a replica silent longer than deadAfterMs, and counts itself alive without a row', async () => {
    expect(await isFirstLiveReplica(repo([row('a', 10_001), row('b', 0)]), 'b', NOW, 10_000)).toBe(true);
    expect(await isFirstLiveReplica(repo([row('a', 10_000), row('b', 0)]), 'b', NOW, 10_000)).toBe(false);
    expect(await isFirstLiveReplica(repo([]), 'z', NOW, 10_000)).toBe(true);
  });
});
