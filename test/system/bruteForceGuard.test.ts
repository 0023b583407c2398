import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Guard } from '../../agent/guard/Guard.js';
import { BanLedger } from '../../controller/security/BanLedger.js';
import { Store } from '../../controller/store/Store.js';
import { GuardStateFile } from '../../agent/guard/GuardStateFile.js';
import type { BanEvent, ManagedSecurity } from '../../proto/gen/cordon/v1/agent.js';
import { parseCidr } from '../../proto/runtime/cidr.js';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { NetLab, inNs } from '../helpers/netns.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';

const gate = systemTestGate(['ip', 'nft']);
explainSkip('bruteForceGuard.test.ts', gate);

const LOOP = join(REPO_ROOT, 'test/helpers/bin/connect-loop.mjs');
/** A second source on the internet side that the policy allows, and one in a management network reaching the public interface. */
const ALLOWED = '203.0.113.77';
const MGMT_ON_PUBLIC = '203.0.113.88';

const policy = (over: Partial<ManagedSecurity> = {}): ManagedSecurity => ({
  enabled: true,
  services: [
    { name: 'ssh', ports: [22], newConnectionsPerMinute: 6, burst: 4 },
    { name: 'http', ports: [80], newConnectionsPerMinute: 600, burst: 100 },
  ],
  baseBanSeconds: 30,
  maxBanSeconds: 120,
  forgetAfterSeconds: 3600,
  allowed: [`${ALLOWED}/32`],
  liftedBanIds: [],
  maxBans: 100,
  listenerCheckSeconds: 0,
  authFailures: 0,
  authWindowSeconds: 600,
  acknowledgesBanEvents: false,
  ...over,
});

/**
 * Brute-force protection with real nft and real TCP: connect loops from the
 * internet namespace against the lab host's port 22 (and 80), the agent's
 * guard reading and growing the kernel's bans, a restart that puts them
 * back, and sources that must never be banned.
 */
describe.skipIf(!gate.ok)('brute-force bans, for real', () => {
  let lab: NetLab;
  let work: string;
  const events: BanEvent[] = [];
  /** Added to the guards' clock: the kernel's time is moved by shortening an element's timeout, the guard's by this. */
  let offsetMs = 0;
  const guards: Guard[] = [];
  /** Whether the guards' link takes events (a controller stream is up). */
  let linkUp = true;

  const makeGuard = () => {
    const g = new Guard({
      runner: new ExecRunner(lab.host),
      log: silentLogger(),
      clock: () => new Date(Date.now() + offsetMs),
      publicInterfaces: ['pub0'],
      managementNetworks: [parseCidr(lab.addr.mgmtNet4), parseCidr(`${MGMT_ON_PUBLIC}/32`)],
      file: new GuardStateFile(join(work, 'state')),
      send: async (e) => {
        if (!linkUp) return false;
        events.push(e);
        return true;
      },
      tickMs: 300,
    });
    guards.push(g);
    return g;
  };
  /** `n` new connections, one after another, from `from` (an address of the internet namespace) to the host. */
  const loop = (n: number, port = 22, from?: string, timeoutMs = 800): { connected: number; refused: number; timeout: number; other: number } =>
    JSON.parse(inNs(lab.internet, process.execPath, LOOP, lab.addr.hostPub4, String(port), String(n), from ?? '', String(timeoutMs)).trim());
  const banned = () => inNs(lab.host, 'nft', 'list', 'set', 'inet', 'cordon_guard', 'ban_v4');

  beforeAll(async () => {
    lab = NetLab.create('guard');
    for (const a of [ALLOWED, MGMT_ON_PUBLIC]) execFileSync('ip', ['-n', lab.internet, 'addr', 'add', `${a}/24`, 'dev', 'inet0', 'nodad']);
    await lab.listen(lab.host, [22, 80]);
    work = mkdtempSync(join(tmpdir(), 'cordon-guard-'));
  });

  afterAll(async () => {
    for (const g of guards) await g.stop();
    lab?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the golden table is one the real nft takes (nft -c, in the lab host's namespace)", () => {
    execFileSync('ip', ['netns', 'exec', lab.host, 'nft', '-c', '-f', join(REPO_ROOT, 'test/unit/golden/guard/guard-table.nft')]);
  });

  it('below the thresholds nothing is banned: a few ssh logins, a busy web client', async () => {
    const g = makeGuard();
    await g.setPolicy(policy());
    expect(inNs(lab.host, 'nft', 'list', 'tables')).toContain('inet cordon_guard');
    expect(loop(3).connected).toBe(3);
    // 60 page loads from one browser in a burst: far below the web meter.
    expect(loop(60, 80).connected).toBe(60);
    await g.tick();
    expect(g.bans()).toEqual([]);
    expect(banned()).not.toContain(lab.addr.inet4);
  });

  it('SYNs that never complete a handshake (what a spoofed source sends) ban nothing; the accounting they need is kept on', async () => {
    const g = guards[0]!;
    // Someone turns conntrack's accounting off on the host: the next tick turns it on again.
    inNs(lab.host, 'sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_acct=0');
    await g.tick();
    expect(inNs(lab.host, 'sysctl', '-n', 'net.netfilter.nf_conntrack_acct').trim()).toBe('1');
    // The host's SYN-ACKs never reach the source, as they would never reach a spoofed one.
    execFileSync('ip', ['netns', 'exec', lab.internet, 'nft', '-f', '-'], {
      input: `table inet spoofed {\n\tchain in {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tip saddr ${lab.addr.hostPub4} tcp flags & (syn | ack) == syn | ack drop\n\t}\n}\n`,
    });
    try {
      const tally = loop(40, 22, '', 50);
      expect(tally.timeout).toBe(40);
      await g.tick();
      expect(g.bans()).toEqual([]);
      expect(banned()).not.toContain(lab.addr.inet4);
    } finally {
      inNs(lab.internet, 'nft', 'delete', 'table', 'inet', 'spoofed');
    }
    // The next test bans the same source by completed handshakes: its meter counted none of these.
  });

  it('a brute force against ssh is banned: its connections refused, the ban timed by the guard', async () => {
    const g = guards[0]!;
    const tally = loop(40);
    // At most the burst (4, three of them spent by the test before) and the minute's rate pass; the rest is refused the moment the kernel bans.
    expect(tally.connected).toBeGreaterThanOrEqual(1);
    expect(tally.connected).toBeLessThanOrEqual(6);
    expect(tally.refused).toBeGreaterThan(25);
    await waitFor('the ban to be booked', async () => (await g.tick(), g.bans().length === 1));
    const ban = g.bans()[0]!;
    expect(ban).toMatchObject({ address: lab.addr.inet4, offence: 1, seconds: 30 });
    // The services whose meters hold the source: the ones it connected to lately (the web requests of the first test too).
    expect(ban.services).toContain('ssh');
    expect(events.some((e) => e.change === 'banned' && e.banId === ban.id)).toBe(true);
    // Every port of the host is closed to the source now, not only ssh.
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 80)).toBe('refused');
    expect(JSON.parse(readFileSync(join(work, 'state', 'guard.json'), 'utf8')).bans[0].address).toBe(lab.addr.inet4);
  });

  it('management and allowed sources are never banned, however hard they knock', async () => {
    for (const from of [ALLOWED, MGMT_ON_PUBLIC]) {
      expect(loop(40, 22, from).connected).toBe(40);
    }
    await guards[0]!.tick();
    expect(guards[0]!.bans().map((b) => b.address)).toEqual([lab.addr.inet4]);
    expect(banned()).not.toContain(ALLOWED);
    expect(banned()).not.toContain(MGMT_ON_PUBLIC);
  });

  it('the ban comes back after an agent restart, with the time it had left', async () => {
    await guards[0]!.stop();
    // What a reboot leaves: no table at all.
    inNs(lab.host, 'nft', 'delete', 'table', 'inet', 'cordon_guard');
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
    const g = makeGuard();
    expect(await g.restore()).toBe(1);
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('refused');
    const listed = banned();
    expect(listed).toContain(lab.addr.inet4);
    expect(g.bans()[0]!.id).toBe(guards[0]!.bans()[0]!.id);
  });

  it('a lift the controller sends removes the ban; the next brute force of the same source starts again at the base time', async () => {
    const g = guards.at(-1)!;
    const id = g.bans()[0]!.id;
    // A ban removed on the host by hand is put back: the page is where a ban is lifted.
    inNs(lab.host, 'nft', 'delete', 'element', 'inet', 'cordon_guard', 'ban_v4', `{ ${lab.addr.inet4} }`);
    await g.tick();
    expect(banned()).toContain(lab.addr.inet4);
    await g.setPolicy(policy({ liftedBanIds: [id] }));
    expect(g.bans()).toEqual([]);
    expect(events.some((e) => e.change === 'removed' && e.banId === id)).toBe(true);
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
    // A lift forgets the source's history (the customer vouched for it): the next ban starts at the base again.
    loop(40);
    await waitFor('the second ban', async () => (await g.tick(), g.bans().length === 1));
    expect(g.bans()[0]).toMatchObject({ offence: 1, seconds: 30 });
  });

  it('a source banned again before it is forgotten gets twice the time, and the kernel holds that time', async () => {
    const g = guards.at(-1)!;
    const first = g.bans()[0]!;
    // 31 s pass: the guard's clock is moved, the kernel's element is given 1 s to live.
    offsetMs += 31_000;
    execFileSync('ip', ['netns', 'exec', lab.host, 'nft', '-f', '-'], { input: `delete element inet cordon_guard ban_v4 { ${first.address} }\nadd element inet cordon_guard ban_v4 { ${first.address} timeout 1s }\n` });
    await new Promise((r) => setTimeout(r, 1_500));
    await g.tick();
    expect(g.bans()).toEqual([]);
    expect(events.some((e) => e.change === 'expired' && e.banId === first.id)).toBe(true);
    // Still over its rate (its meter's bucket barely refilled): the next attempts ban it again.
    loop(10);
    await waitFor('the third ban', async () => (await g.tick(), g.bans().length === 1));
    expect(g.bans()[0]).toMatchObject({ offence: 2, seconds: 60 });
    // The kernel placed it for the base 30 s; the guard set the grown time in the set itself.
    expect(banned()).toMatch(new RegExp(`${first.address.replaceAll('.', '\\.')} timeout 1m`));
  }, 20_000);

  it('a ban that runs out while no controller listens is reported after the reconnect, with when it ran out, and the ledger ends it then', async () => {
    const g = guards.at(-1)!;
    const ban = g.bans()[0]!;
    const sentBefore = events.length;
    linkUp = false;
    offsetMs += (ban.seconds + 1) * 1000;
    execFileSync('ip', ['netns', 'exec', lab.host, 'nft', '-f', '-'], { input: `delete element inet cordon_guard ban_v4 { ${ban.address} }\nadd element inet cordon_guard ban_v4 { ${ban.address} timeout 1s }\n` });
    await new Promise((r) => setTimeout(r, 1_500));
    await g.tick();
    expect(g.bans()).toEqual([]);
    expect(g.pending().map((e) => [e.change, e.banId])).toEqual([['expired', ban.id]]);
    expect(events.length).toBe(sentBefore);
    // Later (a minute without a controller), the stream is back: the next Hello's policy sends what waited.
    offsetMs += 60_000;
    linkUp = true;
    await g.setPolicy(policy());
    const expired = events.slice(sentBefore);
    expect(expired.map((e) => [e.change, e.banId])).toEqual([['expired', ban.id]]);
    expect(expired[0]!.changedAt!.getTime()).toBeLessThanOrEqual(ban.expiresAtMs);
    expect(JSON.parse(readFileSync(join(work, 'state', 'guard.json'), 'utf8')).pending.events).toEqual([]);

    // What the controller's ledger makes of the two events as they came: the ban ended when the agent says, not at the receipt.
    const store = await Store.openMemory();
    try {
      const ledger = new BanLedger(() => store.audit, silentLogger(), 120);
      const banned = events.find((e) => e.change === 'banned' && e.banId === ban.id)!;
      const receivedAt = new Date(Date.now() + offsetMs);
      expect(await ledger.record('web-01', banned, banned.bannedAt!)).toBe('recorded');
      expect(await ledger.record('web-01', expired[0]!, receivedAt)).toBe('recorded');
      const [record] = await ledger.bans('web-01');
      expect(record!.ended).toEqual({ how: 'expired', at: expired[0]!.changedAt, actor: 'agent:web-01' });
      expect(record!.ended!.at.getTime()).toBeLessThan(receivedAt.getTime() - 55_000);
    } finally {
      await store.close();
    }
  }, 20_000);

  it('many sources at once (a spoofed flood) fill the ban set only up to its size; the rest are not banned', async () => {
    const g = guards.at(-1)!;
    await g.setPolicy(policy({ maxBans: 2 }));
    const already = g.bans().length;
    const sources = ['203.0.113.101', '203.0.113.102', '203.0.113.103', '203.0.113.104'];
    for (const a of sources) execFileSync('ip', ['-n', lab.internet, 'addr', 'add', `${a}/24`, 'dev', 'inet0', 'nodad']);
    for (const a of sources) loop(20, 22, a);
    await g.tick();
    const held = g.bans();
    expect(held.length).toBe(2);
    expect(already).toBeLessThanOrEqual(2);
    // At least one of the knocking sources still gets in: the set is full, nothing grows past it.
    const through = sources.filter((a) => !held.some((b) => b.address === a));
    expect(through.length).toBeGreaterThanOrEqual(2);
    const after = loop(3, 22, through[0]);
    expect(after.connected).toBeGreaterThanOrEqual(1);
    expect(after.refused).toBe(0);
  }, 30_000);

  it('the guard turned off removes its table', async () => {
    const g = guards.at(-1)!;
    await g.setPolicy(undefined);
    expect(inNs(lab.host, 'nft', 'list', 'tables')).not.toContain('cordon_guard');
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
  });
});
