import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NftBackend } from '../../agent/backends/nftBackend.js';
import { NftSession, oneLine } from '../../agent/backends/nftSession.js';
import { renderTransaction } from '../../agent/backends/nftRuleset.js';
import { computePlan } from '../../agent/enforce/computePlan.js';
import { parseDesired } from '../../agent/enforce/parseDesired.js';
import { parseCidr } from '../../proto/runtime/cidr.js';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';

const gate = systemTestGate(['ip', 'nft']);
explainSkip('nftSession.test.ts', gate);

const HOST = { publicInterfaces: ['pub0'], managementNetworks: [parseCidr('10.255.0.0/16')], defaultSmtpPorts: [25, 465, 587] };
const plan = (...actions: Record<string, unknown>[]) =>
  computePlan(parseDesired({ generation: '1', enforcements: actions.map((a, i) => ({ id: `e${i}`, incidentId: 'inc-1', reason: 'test', ...a })) }), HOST);

describe.skipIf(!gate.ok)('the enforcement nft session (a long-lived nft -i in a namespace)', () => {
  const ns = `cordon-nfts-${randomBytes(3).toString('hex')}`;
  const runner = new ExecRunner(ns);
  const listTable = () => spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'cordon'], { encoding: 'utf8' });

  beforeAll(() => execFileSync('ip', ['netns', 'add', ns]));
  afterAll(() => spawnSync('ip', ['netns', 'del', ns]));

  it('applies the same transaction nft -f would, as one line, and reads back what nft -f made', async () => {
    const backend = new NftBackend(runner);
    try {
      await backend.apply(plan({ isolate: {} }));
      const viaSession = listTable().stdout;
      expect(viaSession).toContain('cordon:isolate');
      expect((await backend.observe()).isolate).toBe(true);
      // The same plan through nft -f gives the same table.
      await new NftBackend(runner, { session: false }).apply(plan({ isolate: {} }));
      expect(listTable().stdout).toBe(viaSession);
      await backend.apply(plan({ smtpBlock: { allowedRelays: ['203.0.113.25'] } }));
      const observed = await backend.observe();
      expect(observed).toMatchObject({ isolate: false, smtpBlock: true });
    } finally {
      backend.close();
    }
  });

  it('says what nft refused, applies none of that line, and goes on taking the next one', async () => {
    const session = new NftSession(() => runner.interactive('nft', ['-i']));
    try {
      expect(await session.run(oneLine(renderTransaction(plan({ isolate: {} }))))).toBe('');
      const before = listTable().stdout;
      // The table is deleted, then a rule names a set that does not exist: the kernel refuses the batch, the delete too.
      const refused = await session.run('delete table inet cordon; add table inet other; add chain inet other c; add rule inet other c ip daddr @nosuch drop');
      expect(refused).toMatch(/^Error:/m);
      expect(listTable().stdout).toBe(before);
      expect(spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'other']).status).not.toBe(0);
      expect(await session.run('add table inet other')).toBe('');
      expect(spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'other']).status).toBe(0);
    } finally {
      session.close();
      spawnSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'other']);
    }
  });

  it('falls back to nft -f, for good, when its nft -i never answers or dies', async () => {
    // An "nft -i" that reads its input and never answers: the session times out and the backend uses nft -f.
    const lost: string[] = [];
    const silent = new NftBackend(
      { run: (c, a, o) => runner.run(c, a, o), interactive: () => runner.interactive('sh', ['-c', 'cat > /dev/null']) },
      { onSessionLost: (why) => lost.push(why) },
    );
    const started = Date.now();
    await silent.apply(plan({ isolate: {} }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
    expect((await silent.observe()).isolate).toBe(true);
    expect(lost).toEqual([expect.stringMatching(/no answer within 5000 ms/)]);
    // From then on nft -f at once.
    const again = Date.now();
    await silent.apply(plan({ smtpBlock: {} }));
    expect(Date.now() - again).toBeLessThan(4_000);
    expect((await silent.observe()).smtpBlock).toBe(true);

    const dying = new NftBackend({ run: (c, a, o) => runner.run(c, a, o), interactive: () => runner.interactive('sh', ['-c', 'exit 3']) });
    await dying.apply(plan({ isolate: {} }));
    expect((await dying.observe()).isolate).toBe(true);
  }, 20_000);

  it('never takes a line with a line break in it', async () => {
    const session = new NftSession(() => runner.interactive('nft', ['-i']));
    try {
      await expect(session.run('add table inet x\ndelete table inet cordon')).rejects.toThrow(/line break/);
      expect(listTable().status).toBe(0);
    } finally {
      session.close();
    }
  });
});
