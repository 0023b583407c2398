import { describe, expect, it } from 'vitest';
import { validateSwitchInventory } from '../../../controller/switch/validateSwitchInventory.js';

const FP = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const entry = (over: Record<string, unknown> = {}) => ({
  hostId: 'web-01', switchId: 'sw-a1', address: '10.255.9.1', user: 'cordon', privateKeyFile: '/etc/cordon/switch_ed25519',
  hostKeySha256: FP, vendor: 'ios', hostPort: 'GigabitEthernet1/0/5', protectedPorts: ['Gi1/0/48', 'Gi1/0/47'], ...over,
});
const refusal = (entries: unknown) => {
  try {
    validateSwitchInventory(entries);
  } catch (err) {
    return err as Error & { kind: string; field: string };
  }
  throw new Error('accepted');
};

describe('validateSwitchInventory', () => {
  it('accepts a well-formed inventory, defaults the SSH port and merges protected ports per switch', () => {
    const got = validateSwitchInventory([
      entry(),
      entry({ hostId: 'web-02', hostPort: 'GigabitEthernet1/0/6', protectedPorts: ['Gi1/0/46'] }),
      entry({ hostId: 'db-01', switchId: 'sw-b1', vendor: 'junos', hostPort: 'ge-0/0/5', protectedPorts: ['ge-0/0/47'], port: 2222 }),
    ]);
    expect(got.map((e) => [e.hostId, e.target.switchId, e.target.hostPort, e.target.port])).toEqual([
      ['web-01', 'sw-a1', 'GigabitEthernet1/0/5', 22],
      ['web-02', 'sw-a1', 'GigabitEthernet1/0/6', 22],
      ['db-01', 'sw-b1', 'ge-0/0/5', 2222],
    ]);
    expect(got[0]!.target.protectedPorts).toEqual(['Gi1/0/48', 'Gi1/0/47', 'Gi1/0/46']);
  });

  it.each([
    ['a host port that is protected (another spelling)', [entry({ hostPort: 'GigabitEthernet1/0/48' })], 'switchPorts[0].hostPort', /is a protected port \(Gi1\/0\/48\)/],
    ['a host port another entry protects', [entry(), entry({ hostId: 'web-02', hostPort: 'Gi1/0/44', protectedPorts: ['Gi1/0/48'] }), entry({ hostId: 'web-03', hostPort: 'Gi1/0/9', protectedPorts: ['Gi1/0/44'] })], 'switchPorts[1].hostPort', /protected port/],
    ['a missing host key fingerprint', [entry({ hostKeySha256: undefined })], 'switchPorts[0].hostKeySha256', /missing: pin the switch host key/],
    ['an MD5 fingerprint', [entry({ hostKeySha256: 'MD5:12:f8:7e:78:61:b4:bf:e2:de:24:15:96:4e:d4:72:53' })], 'switchPorts[0].hostKeySha256', /not a SHA-256 fingerprint/],
    ['a truncated fingerprint', [entry({ hostKeySha256: FP.slice(0, -1) })], 'switchPorts[0].hostKeySha256', /not a SHA-256 fingerprint/],
    ['an unknown vendor', [entry({ vendor: 'eos' })], 'switchPorts[0].vendor', /unknown vendor "eos"; one of linux, ios, junos/],
    ['two hosts on one switch port', [entry(), entry({ hostId: 'web-02', hostPort: 'Gi1/0/5' })], 'switchPorts[1].hostPort', /already the port of host web-01 \(switchPorts\[0\]\)/],
    ['a host listed twice', [entry(), entry({ hostPort: 'Gi1/0/6' })], 'switchPorts[1].hostId', /host web-01 is already listed at switchPorts\[0\]/],
    ['one switch described two ways', [entry(), entry({ hostId: 'web-02', hostPort: 'Gi1/0/6', address: '10.255.9.2' })], 'switchPorts[1].address', /switch sw-a1 is described differently/],
    ['a port name with shell metacharacters', [entry({ hostPort: 'Gi1/0/5;reload' })], 'switchPorts[0].hostPort', /port name/],
    ['a malformed protected port', [entry({ protectedPorts: ['Gi1/0/48', 'uplink 1'] })], 'switchPorts[0].protectedPorts[1]', /port name/],
    ['no protected ports', [entry({ protectedPorts: [] })], 'switchPorts[0].protectedPorts', /at least one/],
    ['a relative key file', [entry({ privateKeyFile: 'switch_ed25519' })], 'switchPorts[0].privateKeyFile', /absolute path/],
    ['a bad SSH port', [entry({ port: 0 })], 'switchPorts[0].port', /1 to 65535/],
    ['a missing switch id', [entry({ switchId: undefined })], 'switchPorts[0].switchId', /missing/],
    ['a bad host id', [entry({ hostId: 'Web 01' })], 'switchPorts[0].hostId', /must match/],
  ])('refuses %s', (_what, entries, field, message) => {
    const err = refusal(entries);
    expect(err.kind).toBe('invalid');
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });

  it('refuses something that is not a list', () => {
    expect(refusal({ hosts: [] }).field).toBe('switchPorts');
  });
});
