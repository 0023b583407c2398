import { describe, expect, it } from 'vitest';
import type { HostBmc } from '../../../controller/store/BmcRepo.js';
import { checkEmailAddress } from '../../../controller/store/CustomersRepo.js';
import { fileStore, host } from './storeFixtures.js';

const bmc = (hostId: string, passwordFile: string): HostBmc => ({ hostId, protocol: 'ipmi', address: '10.255.9.10', port: 623, user: 'cordon', passwordFile, sol: false, cipherSuite: undefined });

describe('checkEmailAddress', () => {
  it.each(['ops@acme.example', 'jane.doe+abuse@mail.acme-ops.example', "o'neil@example.org", 'x@a.io', '  ops@acme.example  '])('takes %s', (email) => {
    expect(checkEmailAddress(email, 'email')).toBe(email.trim());
  });

  it.each([
    ['', 'required'],
    ['ops', 'domain'],
    ['ops@', 'domain'],
    ['@acme.example', 'local part'],
    ['ops@localhost', 'host name'],
    ['ops@acme..example', 'host name'],
    ['ops@-acme.example', 'host name'],
    ['ops@192.0.2.1', 'host name'],
    ['ops@[192.0.2.1]', 'host name'],
    ['.ops@acme.example', 'before @'],
    ['o..ps@acme.example', 'before @'],
    ['"o ps"@acme.example', 'before @'],
    ['ops@@acme.example', 'before @'],
    ['ACME <ops@acme.example>', 'before @'],
    ['ops@acme.example, x@evil.example', 'before @'],
    ['ops@acme.example\r\nBcc: x@evil.example', 'before @'],
    ['jöns@acme.example', 'before @'],
    [`${'a'.repeat(65)}@acme.example`, '64'],
  ])('refuses %j (%s)', (email, why) => {
    expect(() => checkEmailAddress(email, 'host.customerEmail')).toThrow(expect.objectContaining({ kind: 'invalid', field: 'host.customerEmail', message: expect.stringContaining(why) }));
  });
});

describe('CustomersRepo', () => {
  it('creates a customer once; a second create is a conflict and changes nothing', async () => {
    const store = await fileStore();
    await store.customers.create({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await expect(store.customers.create({ id: 'acme', name: 'Evil', email: 'x@evil.example' })).rejects.toMatchObject({ kind: 'conflict' });
    expect(await store.customers.get('acme')).toEqual({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
  });

  it('sets a contact and returns it before and after; empty values are kept', async () => {
    const store = await fileStore();
    await store.customers.create({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    expect(await store.customers.setContact('acme', { email: 'noc@acme.example', name: '' })).toEqual({
      before: { id: 'acme', name: 'ACME', email: 'ops@acme.example' },
      after: { id: 'acme', name: 'ACME', email: 'noc@acme.example' },
    });
    expect((await store.customers.setContact('acme', { name: 'ACME Ops' })).after).toEqual({ id: 'acme', name: 'ACME Ops', email: 'noc@acme.example' });
    await expect(store.customers.setContact('acme', { email: 'noc@acme' })).rejects.toMatchObject({ kind: 'invalid', field: 'email' });
    await expect(store.customers.setContact('nobody', { email: 'noc@acme.example' })).rejects.toMatchObject({ kind: 'not_found' });
    expect(await store.customers.get('acme')).toEqual({ id: 'acme', name: 'ACME Ops', email: 'noc@acme.example' });
  });
});

describe('BmcRepo', () => {
  it('binds a password file to one host only', async () => {
    const store = await fileStore();
    await store.hosts.add(host('web-01', ['203.0.113.1/32']));
    await store.hosts.add(host('web-02', ['203.0.113.2/32']));
    await store.bmcs.set(bmc('web-01', '/etc/cordon/bmc/web-01'));
    // The same host may set it again (a changed address, the same file).
    await store.bmcs.set({ ...bmc('web-01', '/etc/cordon/bmc/web-01'), address: '10.255.9.11' });
    await expect(store.bmcs.set(bmc('web-02', '/etc/cordon/bmc/web-01'))).rejects.toMatchObject({
      kind: 'conflict',
      field: 'bmc.passwordFile',
      message: expect.stringContaining('bound to host web-01'),
    });
    expect(await store.bmcs.get('web-02')).toBeUndefined();
    expect(await store.bmcs.boundTo('/etc/cordon/bmc/web-01')).toBe('web-01');
    // Once web-01 moves to another file, its old one is free.
    await store.bmcs.set(bmc('web-01', '/etc/cordon/bmc/web-01.new'));
    await store.bmcs.set(bmc('web-02', '/etc/cordon/bmc/web-01'));
    expect(await store.bmcs.boundTo('/etc/cordon/bmc/web-01')).toBe('web-02');
  });
});
