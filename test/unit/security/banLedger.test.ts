import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BanEvent } from '../../../proto/gen/cordon/v1/agent.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import { BanLedger, foldBans, MAX_CHANGED_AT_SKEW_MS } from '../../../controller/security/BanLedger.js';
import type { AuditEntry } from '../../../controller/store/AuditLog.js';
import { ListenerLedger } from '../../../controller/security/ListenerLedger.js';
import { ManagedSecurityPolicies } from '../../../controller/security/ManagedSecurityPolicies.js';
import { managedSecurityFromConfig, type ManagedSecurityConfig } from '../../../controller/security/managedSecuritySettings.js';
import { SecurityPages } from '../../../controller/security/SecurityPages.js';
import { StaticInventory } from '../../../controller/inventory/Inventory.js';
import type { Store } from '../../../controller/store/Store.js';
import { openTestStore } from '../../helpers/testStore.js';

const T0 = new Date('2026-12-07T10:00:00Z');
const config: ManagedSecurityConfig = {
  hosts: ['web-01'],
  customers: ['beta'],
  services: [{ name: 'ssh', ports: [22], newConnectionsPerMinute: 10, burst: 10 }],
  baseBanSeconds: 600,
  maxBanSeconds: 86_400,
  forgetAfterSeconds: 86_400,
  allowed: ['192.0.2.0/24'],
  maxBans: 10_000,
  maxEventsPerMinute: 5,
  resyncSeconds: 15,
  listenerCheckSeconds: 60,
  authFailures: 5,
  authWindowSeconds: 600,
};
const ban = (address: string, atMs = T0.getTime(), over: Partial<BanEvent> = {}): BanEvent => ({
  banId: `${atMs}-${address}`,
  address,
  change: 'banned',
  services: ['ssh'],
  bannedAt: new Date(atMs),
  expiresAt: new Date(atMs + 600_000),
  offence: 1,
  seconds: 600,
  seq: 0n,
  ...over,
});

describe('managed security settings', () => {
  it('is off unless a host or customer took it, and refuses bad config naming the field', () => {
    expect(managedSecurityFromConfig({ ...config, hosts: [], customers: [] })).toBeUndefined();
    expect(managedSecurityFromConfig(config)!.hosts.has('web-01')).toBe(true);
    const bad = (over: Partial<ManagedSecurityConfig>) => () => managedSecurityFromConfig({ ...config, ...over });
    expect(bad({ services: [] })).toThrow(/managedSecurity.services: name at least one/);
    expect(bad({ services: [{ name: 'SSH!', ports: [22], newConnectionsPerMinute: 1, burst: 1 }] })).toThrow(/services\[0\]\.name/);
    expect(bad({ services: [{ name: 'ssh', ports: [0], newConnectionsPerMinute: 1, burst: 1 }] })).toThrow(/services\[0\]\.ports/);
    expect(bad({ services: [{ name: 'ssh', ports: [22], newConnectionsPerMinute: 0, burst: 1 }] })).toThrow(/newConnectionsPerMinute/);
    expect(bad({ maxBanSeconds: 10 })).toThrow(/maxBanSeconds: must be at least baseBanSeconds/);
    expect(bad({ allowed: ['10.0.0.0/33'] })).toThrow(/allowed\[0\]/);
  });
});

describe('the ban ledger (audit log)', () => {
  let store: Store;
  let ledger: BanLedger;
  beforeEach(async () => {
    store = await openTestStore();
    ledger = new BanLedger(() => store.audit, silentLogger(), 5);
  });
  afterEach(async () => store.close());

  it('records what the agent says once, and only the customer page lifts', async () => {
    const e = ban('198.51.100.7');
    expect(await ledger.record('web-01', e, T0)).toBe('recorded');
    // The agent sends its bans again after each Hello: the second copy is skipped.
    expect(await ledger.record('web-01', e, T0)).toBe('known');
    expect((await ledger.active('web-01', T0)).map((b) => b.address)).toEqual(['198.51.100.7']);
    const lifted = await ledger.lift('web-01', e.banId, { actor: 'customer:acme', sourceAddress: '127.0.0.1' }, T0);
    expect(lifted.address).toBe('198.51.100.7');
    expect(await ledger.liftedIds('web-01', T0)).toEqual([e.banId]);
    expect(await ledger.active('web-01', T0)).toEqual([]);
    // The agent's removal after the lift changes nothing: the lift stays the customer's.
    expect(await ledger.record('web-01', { ...e, change: 'removed' }, T0)).toBe('known');
    const entries = await store.audit.list({ subject: 'web-01' });
    expect(entries.map((x) => [x.action, x.actor])).toEqual([['guard.banned', 'agent:web-01'], ['guard.lift', 'customer:acme']]);
    await expect(ledger.lift('web-01', e.banId, { actor: 'customer:acme' }, T0)).rejects.toMatchObject({ kind: 'not_found' });
    // Once the ban would have run out, the lift is no longer part of the desired state.
    expect(await ledger.liftedIds('web-01', new Date(T0.getTime() + 601_000))).toEqual([]);
  });

  it('refuses malformed events by field and bounds how many a host records per minute', async () => {
    await expect(ledger.record('web-01', ban('198.51.100.7', T0.getTime(), { banId: 'x' }), T0)).rejects.toMatchObject({ kind: 'invalid', field: 'ban_id' });
    await expect(ledger.record('web-01', ban('198.51.100.7', T0.getTime(), { address: '198.51.100.8' }), T0)).rejects.toMatchObject({ field: 'address' });
    await expect(ledger.record('web-01', ban('198.51.100.7', T0.getTime(), { change: 'lifted' }), T0)).rejects.toMatchObject({ field: 'change' });
    await expect(ledger.record('web-01', ban('198.51.100.7', T0.getTime(), { expiresAt: new Date(T0.getTime() + 400 * 86_400_000) }), T0)).rejects.toMatchObject({ field: 'expires_at' });
    const recorded = [];
    for (let i = 1; i <= 8; i++) recorded.push(await ledger.record('web-01', ban(`198.51.100.${i}`), T0));
    // Over the budget is not taken, for now: the agent is not acknowledged and sends it again.
    expect(recorded).toEqual([...Array(5).fill('recorded'), ...Array(3).fill('over_budget')]);
    // Another host has its own budget; the next minute a new one.
    expect(await ledger.record('web-02', ban('198.51.100.9'), T0)).toBe('recorded');
    expect(await ledger.record('web-01', ban('198.51.100.20'), new Date(T0.getTime() + 60_000))).toBe('recorded');
  });

  it("records a late end with the agent's changed_at: the entry's time is the receipt, the ban's end the agent's word", async () => {
    const e = ban('198.51.100.7');
    await ledger.record('web-01', { ...e, changedAt: e.bannedAt }, T0);
    // The agent was disconnected when the ban ran out; it reconnects an hour later.
    const later = new Date(T0.getTime() + 3_600_000);
    expect(await ledger.record('web-01', { ...e, change: 'expired', changedAt: e.expiresAt }, later)).toBe('recorded');
    const [entry] = (await store.audit.list({ subject: 'web-01' })).filter((x) => x.action === 'guard.expired');
    expect(entry).toMatchObject({ actor: 'agent:web-01', at: later, detail: { banId: e.banId, changedAt: e.expiresAt!.toISOString() } });
    const [record] = await ledger.bans('web-01');
    expect(record!.ended).toEqual({ how: 'expired', at: e.expiresAt, actor: 'agent:web-01' });

    // An end without changed_at (an older agent) ends at its receipt.
    const f = ban('198.51.100.8');
    await ledger.record('web-01', f, T0);
    await ledger.record('web-01', { ...f, change: 'removed' }, later);
    expect((await ledger.bans('web-01')).find((b) => b.id === f.banId)!.ended!.at).toEqual(later);
  });

  it('refuses a changed_at before the ban or ahead of the controller by more than the skew, naming the field', async () => {
    const e = ban('198.51.100.7');
    await ledger.record('web-01', e, T0);
    const end = (changedAt: Date, over: Partial<BanEvent> = {}) => ledger.record('web-01', { ...e, change: 'expired', changedAt, ...over }, T0);
    await expect(end(new Date(T0.getTime() + MAX_CHANGED_AT_SKEW_MS + 1_000))).rejects.toMatchObject({ kind: 'invalid', field: 'changed_at', message: expect.stringContaining('future') });
    await expect(end(new Date(T0.getTime() - 1_000))).rejects.toMatchObject({ field: 'changed_at', message: expect.stringContaining('before banned_at') });
    // An agent that also moves banned_at back is held to the ban the ledger recorded.
    await expect(end(new Date(T0.getTime() - 1_000), { bannedAt: new Date(T0.getTime() - 60_000) })).rejects.toMatchObject({ field: 'changed_at', message: expect.stringContaining('before the ban began') });
    await expect(ledger.record('web-01', { ...ban('198.51.100.9'), changedAt: new Date(NaN) }, T0)).rejects.toMatchObject({ field: 'changed_at' });
    expect((await ledger.active('web-01', T0)).map((b) => b.id)).toEqual([e.banId]);
    // Within the skew is taken.
    expect(await end(new Date(T0.getTime() + 60_000))).toBe('recorded');
  });

  it('folds an end at its receipt when the changed_at in its detail is not one the ledger would take', () => {
    const entry = (id: number, action: string, at: Date, detail: Record<string, unknown>): AuditEntry => ({ id, at, actor: 'agent:web-01', action, subject: 'web-01', detail: { banId: `${T0.getTime()}-198.51.100.7`, address: '198.51.100.7', ...detail }, prevHash: '', hash: '' });
    const banned = entry(1, 'guard.banned', T0, { bannedAt: T0.toISOString(), expiresAt: new Date(T0.getTime() + 600_000).toISOString(), services: ['ssh'], offence: 1, seconds: 600 });
    const later = new Date(T0.getTime() + 3_600_000);
    for (const changedAt of ['not a time', new Date(T0.getTime() - 1).toISOString(), new Date(later.getTime() + MAX_CHANGED_AT_SKEW_MS + 1).toISOString(), 42]) {
      expect(foldBans([banned, entry(2, 'guard.expired', later, { changedAt })])[0]!.ended!.at).toEqual(later);
    }
    // A customer's lift is always the page's own time.
    expect(foldBans([banned, { ...entry(2, 'guard.lift', later, { changedAt: T0.toISOString() }), actor: 'customer:acme' }])[0]!.ended).toEqual({ how: 'lifted', at: later, actor: 'customer:acme' });
  });

  it('sends a policy only to hosts that took managed security, with their lifts', async () => {
    const inventory = new StaticInventory([
      { id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.1/32'], managementAddress: '10.0.0.1' },
      { id: 'web-02', customerId: 'beta', publicPrefixes: ['203.0.113.2/32'], managementAddress: '10.0.0.2' },
      { id: 'web-03', customerId: 'acme', publicPrefixes: ['203.0.113.3/32'], managementAddress: '10.0.0.3' },
    ]);
    const policies = new ManagedSecurityPolicies(managedSecurityFromConfig(config)!, inventory, ledger, new ListenerLedger(() => store.audit), () => T0, silentLogger());
    expect(await policies.policyFor('web-03')).toBeUndefined();
    expect(await policies.policyFor('web-02')).toMatchObject({ enabled: true, maxEventsPerMinute: 5 });
    const e = ban('198.51.100.7');
    await policies.onBan('web-01', e);
    expect(await policies.onBan('web-03', ban('198.51.100.8'))).toBe('not_covered');
    await ledger.lift('web-01', e.banId, { actor: 'customer:acme' }, T0);
    expect((await policies.policyFor('web-01'))!.liftedBanIds).toEqual([e.banId]);

    const secret = Buffer.alloc(32, 7);
    const pages = new SecurityPages(secret, 'https://c.example/', inventory, (id) => policies.covers(id));
    const token = pages.token({ id: 'web-01', customerId: 'acme' });
    expect(pages.url({ id: 'web-01', customerId: 'acme' })).toBe(`https://c.example/s/${token}`);
    expect(pages.resolve(token, T0.getTime())?.id).toBe('web-01');
    // No page for a host without managed security; a token made for another customer opens nothing.
    expect(pages.resolve(pages.token({ id: 'web-03', customerId: 'acme' }), T0.getTime())).toBeUndefined();
    expect(pages.resolve(pages.token({ id: 'web-01', customerId: 'beta' }), T0.getTime())).toBeUndefined();
    expect(pages.resolve('short', T0.getTime())).toBeUndefined();
  });
});

describe('the listening-socket ledger (audit log)', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openTestStore();
  });
  afterEach(async () => store.close());
  const sock = (port: number, process = 'nginx', address = '0.0.0.0') => ({ protocol: 'tcp', address, port, process, pid: 100 + port });

  it('takes the first list as the baseline, reports each new socket once, and the customer accepts it', async () => {
    const ledger = new ListenerLedger(() => store.audit);
    expect(await ledger.take('web-01', { sockets: [sock(22, 'sshd'), sock(80)], observedAt: T0 }, T0)).toEqual([]);
    // The same list again, and a worker pid that changed: nothing new.
    expect(await ledger.take('web-01', { sockets: [{ ...sock(80), pid: 9999 }, sock(22, 'sshd')], observedAt: T0 }, T0)).toEqual([]);
    const fresh = await ledger.take('web-01', { sockets: [sock(22, 'sshd'), sock(80), sock(4444, 'nc')], observedAt: T0 }, T0);
    expect(fresh.map((s) => s.port)).toEqual([4444]);
    // Still there at the next check, or gone and back: reported once.
    expect(await ledger.take('web-01', { sockets: [sock(4444, 'nc')], observedAt: T0 }, T0)).toEqual([]);
    // Another program on a baseline port is new.
    expect((await ledger.take('web-01', { sockets: [sock(80, 'python3')], observedAt: T0 }, T0)).map((s) => s.process)).toEqual(['python3']);
    const st = await ledger.state('web-01');
    expect(st.pending.map((p) => p.key)).toEqual(['tcp 0.0.0.0:4444 nc', 'tcp 0.0.0.0:80 python3']);
    await ledger.accept('web-01', 'tcp 0.0.0.0:4444 nc', { actor: 'customer:acme', sourceAddress: '127.0.0.1' }, T0);
    expect((await ledger.state('web-01')).baseline.has('tcp 0.0.0.0:4444 nc')).toBe(true);
    await expect(ledger.accept('web-01', 'tcp 0.0.0.0:4444 nc', { actor: 'customer:acme' }, T0)).rejects.toMatchObject({ kind: 'not_found' });
    const entries = await store.audit.list({ subject: 'web-01' });
    expect(entries.map((e) => [e.action, e.actor])).toEqual([
      ['sockets.baseline', 'agent:web-01'],
      ['sockets.new', 'agent:web-01'],
      ['sockets.new', 'agent:web-01'],
      ['sockets.accept', 'customer:acme'],
    ]);
  });

  it('refuses a malformed list by field and records nothing', async () => {
    const ledger = new ListenerLedger(() => store.audit);
    await expect(ledger.take('web-01', { sockets: [sock(22), { ...sock(23), protocol: 'sctp' }], observedAt: T0 }, T0)).rejects.toMatchObject({ kind: 'invalid', field: 'sockets[1].protocol' });
    await expect(ledger.take('web-01', { sockets: [{ ...sock(23), address: 'evil' }], observedAt: T0 }, T0)).rejects.toMatchObject({ field: 'sockets[0].address' });
    await expect(ledger.take('web-01', { sockets: [{ ...sock(23), process: 'x\u0007' }], observedAt: T0 }, T0)).rejects.toMatchObject({ field: 'sockets[0].process' });
    expect(await store.audit.list({ subject: 'web-01' })).toEqual([]);
  });

  it("takes one host's records in turn: two socket lists sent together make one baseline and one new socket, and the desk view shows them", async () => {
    const inventory = new StaticInventory([{ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.1/32'], managementAddress: '10.0.0.1' }]);
    const bans = new BanLedger(() => store.audit, silentLogger(), 5);
    const policies = new ManagedSecurityPolicies(managedSecurityFromConfig(config)!, inventory, bans, new ListenerLedger(() => store.audit), () => T0, silentLogger());
    const socket = (port: number) => ({ protocol: 'tcp', address: '0.0.0.0', port, process: 'sshd', pid: 1 });
    // Not awaited one by one, as the agent's stream does not wait for them.
    const [first, second] = await Promise.all([
      policies.onListeners('web-01', { sockets: [socket(22)], observedAt: T0 }),
      policies.onListeners('web-01', { sockets: [socket(22), socket(8080)], observedAt: T0 }),
      policies.onBan('web-01', ban('198.51.100.7')),
    ]);
    expect(first).toEqual([]);
    expect(second).toEqual([socket(8080)]);
    const actions = (await store.audit.list({ subject: 'web-01' })).map((e) => e.action).sort();
    expect(actions).toEqual(['guard.banned', 'sockets.baseline', 'sockets.new']);
    const view = await policies.deskView('web-01');
    expect(view).toMatchObject({ covered: true, bans: [expect.objectContaining({ address: '198.51.100.7' })], pendingSockets: [{ socket: socket(8080), at: T0 }] });
    expect(await policies.deskView('web-09')).toEqual({ covered: false, bans: [], pendingSockets: [] });
  });
});
