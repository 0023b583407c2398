import { describe, expect, it } from 'vitest';
import { at, fileStore } from './storeFixtures.js';

const link = (hostId: string, live: boolean, since: number, session = '{}') => ({ hostId, live, connectedSince: at(since), session });

describe('ReplicasRepo', () => {
  it('says which replicas are alive, and forgets one that leaves', async () => {
    const store = await fileStore();
    await store.replicas.heartbeat('r-a', '10.0.0.1:7443', at(0), at(0));
    await store.replicas.heartbeat('r-b', '10.0.0.2:7443', at(0), at(0));
    await store.replicas.heartbeat('r-a', '10.0.0.1:7443', at(0), at(1));
    expect((await store.replicas.list()).map((r) => [r.id, r.seenAt.getTime()])).toEqual([
      ['r-a', at(1).getTime()],
      ['r-b', at(0).getTime()],
    ]);
    await store.replicas.leave('r-b');
    expect((await store.replicas.list()).map((r) => r.id)).toEqual(['r-a']);
  });

  it('lets a newer live stream take a host from another replica, and never lets the old replica’s late close hide it', async () => {
    const store = await fileStore();
    await store.replicas.writeLinks('r-a', [link('web-01', true, 0, '{"n":1}')], at(0));
    // The agent moved to r-b before r-a noticed its stream had died.
    await store.replicas.writeLinks('r-b', [link('web-01', true, 1, '{"n":2}')], at(1));
    // r-a's close arrives late: the row is r-b's now, and stays so.
    await store.replicas.writeLinks('r-a', [link('web-01', false, 0, '{"n":3}')], at(2));
    expect(await store.replicas.links()).toMatchObject([{ hostId: 'web-01', replicaId: 'r-b', live: true, session: '{"n":2}' }]);
    // An older live stream (a replica replaying what it held) does not take a newer one's row either.
    await store.replicas.writeLinks('r-c', [link('web-01', true, 0.5, '{"n":4}')], at(3));
    expect((await store.replicas.links())[0]).toMatchObject({ replicaId: 'r-b', session: '{"n":2}' });
    // The holder's own close is recorded; then any live stream may take the host.
    await store.replicas.writeLinks('r-b', [link('web-01', false, 1, '{"n":5}')], at(4));
    expect((await store.replicas.links())[0]).toMatchObject({ replicaId: 'r-b', live: false });
    await store.replicas.writeLinks('r-c', [link('web-01', true, 0.5, '{"n":6}')], at(5));
    expect((await store.replicas.links())[0]).toMatchObject({ replicaId: 'r-c', live: true, session: '{"n":6}' });
  });

  it('writes a storm of links in one call, in chunks', async () => {
    const store = await fileStore();
    const many = Array.from({ length: 1_234 }, (_, n) => link(`h-${String(n).padStart(4, '0')}`, true, 0));
    await store.replicas.writeLinks('r-a', many, at(0));
    const rows = await store.replicas.links();
    expect(rows).toHaveLength(1_234);
    expect(rows.every((r) => r.replicaId === 'r-a' && r.live)).toBe(true);
  });
});
