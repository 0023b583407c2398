import { describe, expect, it } from 'vitest';
import type { RegisteredReporter } from '../../../controller/intake/trust/RegisteredReporter.js';
import { validateReporterList } from '../../../controller/intake/trust/RegisteredReporter.js';
import { seedConfiguredReporters } from '../../../controller/store/seedConfiguredReporters.js';
import { at, fileStore, T0 } from './storeFixtures.js';

const cert = (over: Partial<RegisteredReporter> = {}): RegisteredReporter => ({
  id: 'cert-example',
  name: 'Example CERT',
  kind: 'cert',
  domains: ['cert.example'],
  arcForwarder: false,
  ...over,
});

describe('ReportersRepo', () => {
  it('adds, gets, lists by id and removes; a desk add of an existing id is a conflict; a removed id is not_found', async () => {
    const store = await fileStore();
    const added = await store.reporters.add(cert({ domains: ['CERT.Example.', 'cert.example', 'abuse.cert.example'] }), 'desk', 'olga', T0);
    expect(added).toEqual({ ...cert({ domains: ['cert.example', 'abuse.cert.example'] }), source: 'desk', addedBy: 'olga', addedAt: T0 });
    await store.reporters.add({ id: 'a-feed', name: 'A feed', kind: 'upstream', domains: [], arcForwarder: false, feed: 'a-feed' }, 'desk', 'olga', T0);
    expect(await store.reporters.get('cert-example')).toEqual(added);
    expect((await store.reporters.list()).map((r) => r.id)).toEqual(['a-feed', 'cert-example']);
    expect((await store.reporters.get('a-feed'))?.feed).toBe('a-feed');
    await expect(store.reporters.add(cert({ name: 'Other' }), 'desk', 'omar', T0)).rejects.toMatchObject({ kind: 'conflict', field: 'reporter.id' });
    expect(await store.reporters.remove('cert-example')).toEqual(added);
    await expect(store.reporters.remove('cert-example')).rejects.toMatchObject({ kind: 'not_found' });
    expect(await store.reporters.get('cert-example')).toBeUndefined();
  });

  it('upserts from the config', async () => {
    const store = await fileStore();
    await store.reporters.add(cert(), 'config', 'config', T0);
    const again = await store.reporters.add(cert({ name: 'Renamed CERT', arcForwarder: true }), 'config', 'config', at(1));
    expect(await store.reporters.list()).toEqual([again]);
    expect(again).toMatchObject({ name: 'Renamed CERT', arcForwarder: true, source: 'config' });
  });

  it('refuses a domain or a feed another reporter holds (conflict, naming the field)', async () => {
    const store = await fileStore();
    await store.reporters.add(cert({ feed: 'certfeed' }), 'desk', 'olga', T0);
    await expect(store.reporters.add(cert({ id: 'other', domains: ['x.example', 'cert.example'] }), 'desk', 'olga', T0)).rejects.toMatchObject({
      kind: 'conflict',
      field: 'reporter.domains[1]',
      message: expect.stringContaining('already belongs to reporter cert-example'),
    });
    await expect(store.reporters.add(cert({ id: 'other', domains: ['x.example'], feed: 'certfeed' }), 'desk', 'olga', T0)).rejects.toMatchObject({ kind: 'conflict', field: 'reporter.feed' });
  });

  it.each<[string, unknown, string]>([
    ['a bad id', { id: 'Cert Bund' }, 'reporter.id'],
    ['an empty name', { name: ' ' }, 'reporter.name'],
    ['an unknown kind', { kind: 'friend' }, 'reporter.kind'],
    ['the anonymous kind', { kind: 'anonymous' }, 'reporter.kind'],
    ['a domain that is not a DNS name', { domains: ['cert.example', 'not a domain'] }, 'reporter.domains[1]'],
    ['a single-label domain', { domains: ['localhost'] }, 'reporter.domains[0]'],
    ['an IP address as domain', { domains: ['192.0.2.1'] }, 'reporter.domains[0]'],
    ['neither a domain nor a feed', { domains: [] }, 'reporter.domains'],
    ['a bad feed name', { feed: 'Feed/1' }, 'reporter.feed'],
    ['a non-boolean arcForwarder', { arcForwarder: 'yes' }, 'reporter.arcForwarder'],
    ['an unknown key', { trusted: true }, 'reporter.trusted'],
  ])('refuses %s (invalid, naming the field)', async (_what, over, field) => {
    const store = await fileStore();
    await expect(store.reporters.add({ ...cert(), ...(over as object) } as RegisteredReporter, 'desk', 'olga', T0)).rejects.toMatchObject({ kind: 'invalid', field });
    expect(await store.reporters.list()).toEqual([]);
  });

  it('tells listeners of every write', async () => {
    const store = await fileStore();
    let calls = 0;
    const off = store.reporters.onChange(() => calls++);
    await store.reporters.add(cert(), 'desk', 'olga', T0);
    await store.reporters.remove('cert-example');
    expect(calls).toBe(2);
    off();
    await store.reporters.add(cert(), 'desk', 'olga', T0);
    expect(calls).toBe(2);
  });
});

describe('seeding the registry from the config', () => {
  it('adds, updates and removes config entries (audited), keeps desk entries, and writes nothing when unchanged', async () => {
    const store = await fileStore();
    await store.reporters.add({ id: 'desk-one', name: 'Desk one', kind: 'upstream', domains: ['desk.example'], arcForwarder: false }, 'desk', 'olga', T0);
    const first = await seedConfiguredReporters(store, [cert(), cert({ id: 'lists', name: 'Lists', kind: 'upstream', domains: ['fwd.example'], arcForwarder: true })], T0);
    expect(first.added.map((r) => r.id)).toEqual(['cert-example', 'lists']);
    expect((await store.reporters.list()).map((r) => `${r.id}:${r.source}`)).toEqual(['cert-example:config', 'desk-one:desk', 'lists:config']);

    const unchanged = await seedConfiguredReporters(store, [cert(), cert({ id: 'lists', name: 'Lists', kind: 'upstream', domains: ['fwd.example'], arcForwarder: true })], at(1));
    expect(unchanged).toEqual({ added: [], updated: [], removed: [] });

    // Next start: "lists" was deleted from the file, the CERT renamed.
    const next = await seedConfiguredReporters(store, [cert({ name: 'CERT (renamed)' })], at(2));
    expect(next.removed.map((r) => r.id)).toEqual(['lists']);
    expect(next.updated).toEqual([expect.objectContaining({ old: expect.objectContaining({ name: 'Example CERT' }), new: expect.objectContaining({ name: 'CERT (renamed)' }) })]);
    expect((await store.reporters.list()).map((r) => r.id)).toEqual(['cert-example', 'desk-one']);

    const audit = (await store.db.all<{ actor: string; action: string; subject: string }>('SELECT actor, action, subject FROM audit_log ORDER BY id')).map((e) => `${e.actor} ${e.action} ${e.subject}`);
    expect(audit).toEqual(['config reporter.add cert-example', 'config reporter.add lists', 'config reporter.remove lists', 'config reporter.update cert-example']);
  });

  it('lets a domain move from a removed config entry to a new one in the same start', async () => {
    const store = await fileStore();
    await seedConfiguredReporters(store, [cert()], T0);
    await seedConfiguredReporters(store, [cert({ id: 'cert-new' })], at(1));
    expect((await store.reporters.list()).map((r) => r.id)).toEqual(['cert-new']);
  });

  it('changes nothing when one entry cannot be stored (all or nothing)', async () => {
    const store = await fileStore();
    await store.reporters.add({ id: 'desk-one', name: 'Desk one', kind: 'upstream', domains: ['desk.example'], arcForwarder: false }, 'desk', 'olga', T0);
    await expect(seedConfiguredReporters(store, [cert(), cert({ id: 'clash', domains: ['desk.example'] })], T0)).rejects.toMatchObject({ kind: 'conflict' });
    expect((await store.reporters.list()).map((r) => r.id)).toEqual(['desk-one']);
  });
});

describe('validateReporterList', () => {
  it('refuses the same id, domain or feed twice, naming the entry', () => {
    expect(() => validateReporterList([cert(), cert()], 'reporters')).toThrow(expect.objectContaining({ kind: 'invalid', field: 'reporters[1].id' }));
    expect(() => validateReporterList([cert(), cert({ id: 'b' })], 'reporters')).toThrow(expect.objectContaining({ field: 'reporters[1].domains[0]' }));
    expect(() => validateReporterList([cert({ feed: 'f' }), cert({ id: 'b', domains: ['b.example'], feed: 'f' })], 'reporters')).toThrow(expect.objectContaining({ field: 'reporters[1].feed' }));
    expect(() => validateReporterList({}, 'reporters')).toThrow(expect.objectContaining({ field: 'reporters' }));
  });
});
