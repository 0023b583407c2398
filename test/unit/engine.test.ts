import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LinkObserved } from '../../agent/backends/linkBackend.js';
import type { NftObserved } from '../../agent/backends/nftBackend.js';
import { Engine, type HostBackends, type TcObservedShape } from '../../agent/enforce/Engine.js';
import { parseDesired } from '../../agent/enforce/parseDesired.js';
import type { EnforcementPlan } from '../../agent/enforce/plan.js';
import { StateFile } from '../../agent/state/StateFile.js';
import { parseCidr } from '../../proto/runtime/cidr.js';
import { silentLogger } from '../../proto/runtime/logger.js';

/** In-memory host: what the backends "installed", which a test can tamper with. */
function fakeHost(refuse?: string) {
  const host = { nft: undefined as EnforcementPlan | undefined, rate: undefined as number | undefined, down: new Set<string>(), applies: 0 };
  const downed = new Set<string>();
  const backends: HostBackends = {
    nft: {
      name: 'nftables',
      apply: async (p) => {
        host.applies++;
        host.nft = p.isolate || p.smtp ? p : undefined;
      },
      observe: async (): Promise<NftObserved> => ({
        present: host.nft !== undefined,
        isolate: host.nft?.isolate ?? false,
        smtpBlock: host.nft?.smtp !== undefined,
        fingerprint: JSON.stringify(host.nft ?? null, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
        counters: {},
      }),
      release: async () => {
        host.nft = undefined;
      },
    },
    tc: {
      name: 'tc',
      apply: async (p) => {
        host.rate = p.throttleBps;
      },
      observe: async (p): Promise<TcObservedShape> => ({
        interfaces: p.publicInterfaces.map((name) => ({ name, rateBps: host.rate, egress: host.rate !== undefined, ingress: host.rate !== undefined })),
      }),
      release: async () => {
        host.rate = undefined;
      },
    },
    link: {
      name: 'link',
      refusal: async () => refuse,
      downedByCordon: () => [...downed],
      restoreDowned: (n) => n.forEach((x) => downed.add(x)),
      apply: async (p) => {
        for (const n of p.publicInterfaces) {
          if (p.linksDown.includes(n)) {
            downed.add(n);
            host.down.add(n);
          } else if (downed.has(n)) {
            downed.delete(n);
            host.down.delete(n);
          }
        }
      },
      observe: async (p): Promise<LinkObserved> => ({ links: p.publicInterfaces.map((name) => ({ name, exists: true, up: !host.down.has(name) })) }),
      release: async () => {
        downed.forEach((n) => host.down.delete(n));
        downed.clear();
      },
    },
  };
  return { host, backends };
}

const settings = { publicInterfaces: ['pub0'], managementNetworks: [parseCidr('10.255.0.0/16')], defaultSmtpPorts: [25] };
const state = (generation: number, ...actions: Record<string, unknown>[]) =>
  parseDesired({ generation, enforcements: actions.map((a, i) => ({ id: `e${i}`, incidentId: `inc-${i}`, reason: 'r', ...a })) });

function engine(refuse?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-engine-'));
  const fake = fakeHost(refuse);
  return { ...fake, dir, engine: new Engine(fake.backends, settings, new StateFile(dir), silentLogger()) };
}

/** The nft part of a plan, as NftBackend renders it: what sameAsApplied compares. */
const nftPart = (p: EnforcementPlan) => JSON.stringify({ isolate: p.isolate, smtp: p.smtp ?? null, nets: p.managementNetworks }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));

/** An engine whose nft backend remembers what it applied, as NftBackend does. */
function rememberingEngine() {
  const made = engine();
  let applied: string | undefined;
  const apply = made.backends.nft.apply;
  made.backends.nft.apply = async (p) => {
    await apply(p);
    applied = nftPart(p);
  };
  made.backends.nft.sameAsApplied = (p) => applied === nftPart(p);
  return made;
}

describe('Engine', () => {
  it('does not send an nft transaction it already applied, while the table is as it left it', async () => {
    const { engine: e, host } = rememberingEngine();
    await e.converge(state(1, { smtpBlock: {} }));
    expect(host.applies).toBe(1);
    const r = await e.converge(state(2, { smtpBlock: {} }, { throttle: { rateBps: 10_000_000 } }));
    expect(host.applies).toBe(1);
    expect(host.rate).toBe(10_000_000);
    expect(r.outcomes.map((o) => [o.kind, o.status])).toEqual([
      ['smtp_block', 'applied'],
      ['throttle', 'applied'],
    ]);
  });

  it('applies the same nft transaction again when the table changed since (a customer deleted it)', async () => {
    const { engine: e, host } = rememberingEngine();
    await e.converge(state(1, { smtpBlock: {} }));
    host.nft = undefined; // nft delete table inet cordon, between two drift checks
    const r = await e.converge(state(2, { smtpBlock: {} }, { throttle: { rateBps: 10_000_000 } }));
    expect(host.applies).toBe(2);
    expect((host.nft as EnforcementPlan | undefined)?.smtp).toBeDefined();
    expect(r.outcomes.map((o) => [o.kind, o.status])).toEqual([
      ['smtp_block', 'applied'],
      ['throttle', 'applied'],
    ]);
  });

  it('applies, verifies and reports every kind', async () => {
    const { engine: e } = engine();
    const r = await e.converge(state(1, { smtpBlock: {} }, { throttle: { rateBps: 10_000_000 } }));
    expect(r.outcomes.map((o) => [o.kind, o.status])).toEqual([
      ['smtp_block', 'applied'],
      ['throttle', 'applied'],
    ]);
    expect(r.generation).toBe(1n);
  });

  it('changes nothing when the same state comes twice', async () => {
    const { engine: e, host } = engine();
    await e.converge(state(1, { isolate: {} }));
    const applies = host.applies;
    const again = await e.converge(state(1, { isolate: {} }));
    expect(again.unchanged).toBe(true);
    expect(host.applies).toBe(applies);
  });

  it('refuses an older generation and a changed state under the same generation, changing nothing', async () => {
    const { engine: e, host } = engine();
    await e.converge(state(5, { isolate: {} }));
    await expect(e.converge(state(4))).rejects.toMatchObject({ kind: 'conflict', field: 'generation', message: expect.stringMatching(/generation 4 is older than generation 5/) });
    await expect(e.converge(state(5))).rejects.toMatchObject({ kind: 'conflict' });
    expect(host.nft?.isolate).toBe(true);
    expect(e.generation()).toBe(5n);
  });

  it('removing one kind leaves the others', async () => {
    const { engine: e, host } = engine();
    await e.converge(state(1, { smtpBlock: {} }, { throttle: { rateBps: 1_000_000 } }));
    await e.converge(state(2, { throttle: { rateBps: 1_000_000 } }));
    expect(host.nft).toBeUndefined();
    expect(host.rate).toBe(1_000_000);
  });

  it('repairs drift and says what it found and restored', async () => {
    const { engine: e, host } = engine();
    await e.converge(state(1, { smtpBlock: {} }, { nicDown: {} }));
    expect(await e.checkDrift()).toBeUndefined();
    host.nft = undefined; // someone ran nft delete table inet cordon
    host.down.delete('pub0'); // and ip link set pub0 up
    const tamper = await e.checkDrift();
    expect(tamper!.found).toEqual(['nft table inet cordon missing', 'pub0 is up though NIC_DOWN holds it down']);
    expect(tamper!.restored).toHaveLength(2);
    expect(host.nft).toBeDefined();
    expect(host.down.has('pub0')).toBe(true);
    // Reports carry the count, for the controller's metrics.
    expect((await e.status()).driftRepairs).toBe(1);
    host.nft = undefined;
    // The controller re-sending the same generation also repairs, and counts.
    const resent = await e.converge(state(1, { smtpBlock: {} }, { nicDown: {} }));
    expect(resent.driftRepairs).toBe(2);
    expect(resent.applyMs).toBeGreaterThanOrEqual(0);
    expect((await e.status()).applyMs).toBe(0);
  });

  it('refuses NIC_DOWN on the management path and changes no link', async () => {
    const { engine: e, host } = engine('pub0 carries management address 10.255.0.10');
    const r = await e.converge(state(1, { nicDown: {} }));
    expect(r.outcomes[0]).toMatchObject({ status: 'refused', error: 'pub0 carries management address 10.255.0.10' });
    expect(host.down.size).toBe(0);
  });

  it('a release-all beside the daemon says so in the file before it removes anything, so a drift check in between follows it', async () => {
    const daemon = engine();
    await daemon.engine.converge(state(5, { isolate: {} }, { nicDown: {} }));
    const cli = new Engine(daemon.backends, settings, new StateFile(daemon.dir), silentLogger());
    await cli.restore();
    // The daemon's drift tick lands while the command's nft release runs.
    let during: Awaited<ReturnType<Engine['checkDrift']>>;
    const release = daemon.backends.nft.release;
    daemon.backends.nft.release = async (p) => {
      await release(p);
      daemon.backends.nft.release = release;
      during = await daemon.engine.checkDrift();
    };
    await cli.releaseAll();
    expect(during!.found).toEqual(['saved state rewritten outside the daemon: released by cordon-agent release-all']);
    expect(daemon.host.nft).toBeUndefined();
    expect(daemon.host.down.size).toBe(0);
    // Nothing left for later ticks to repair, and a restart keeps it released.
    const later = await daemon.engine.checkDrift();
    expect(later, JSON.stringify(later)).toBeUndefined();
    const held = await new Engine(daemon.backends, settings, new StateFile(daemon.dir), silentLogger()).restore();
    expect(held!.outcomes.every((o) => o.status === 'refused')).toBe(true);
    expect(daemon.host.nft).toBeUndefined();
  });

  it('re-applies the saved state after a restart, and keeps a local release until a newer generation', async () => {
    const first = engine();
    await first.engine.converge(state(3, { isolate: {} }));
    const restarted = new Engine(first.backends, settings, new StateFile(first.dir), silentLogger());
    first.host.nft = undefined; // a reboot flushed everything
    const r = await restarted.restore();
    expect(r!.outcomes[0]!.status).toBe('applied');
    expect((first.host.nft as EnforcementPlan | undefined)?.isolate).toBe(true);

    await restarted.releaseAll();
    expect(first.host.nft).toBeUndefined();
    const again = new Engine(first.backends, settings, new StateFile(first.dir), silentLogger());
    const held = await again.restore();
    expect(held!.outcomes[0]).toMatchObject({ status: 'refused', error: expect.stringMatching(/released locally/) });
    expect(first.host.nft).toBeUndefined();
    await again.converge(state(4, { isolate: {} }));
    expect((first.host.nft as EnforcementPlan | undefined)?.isolate).toBe(true);
  });
});
