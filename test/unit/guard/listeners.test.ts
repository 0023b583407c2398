import { describe, expect, it } from 'vitest';
import { interfaceAddresses, parseListeners, publicListeners, splitLocal } from '../../../agent/sockets/parseListeners.js';

/** `ss -H -tulnp` as iproute2 6.1 (Debian 12) prints it, spaces as it pads them. */
const SS = [
  'udp   UNCONN 0      0          127.0.0.53%lo:53         0.0.0.0:*    users:(("systemd-resolve",pid=512,fd=13))',
  'udp   UNCONN 0      0                0.0.0.0:68         0.0.0.0:*    users:(("dhclient",pid=601,fd=7))',
  'tcp   LISTEN 0      128              0.0.0.0:22         0.0.0.0:*    users:(("sshd",pid=700,fd=3))',
  'tcp   LISTEN 0      511                    *:80               *:*    users:(("nginx",pid=801,fd=6),("nginx",pid=800,fd=6))',
  'tcp   LISTEN 0      4096         10.255.0.10:9100       0.0.0.0:*    users:(("node_exporter",pid=900,fd=3))',
  'tcp   LISTEN 0      5           203.0.113.10:8080       0.0.0.0:*    users:(("Web Content",pid=1001,fd=4))',
  'tcp   LISTEN 0      128                 [::]:22            [::]:*    users:(("sshd",pid=700,fd=4))',
  'tcp   LISTEN 0      128    [2001:db8:1::10]:443            [::]:*    users:(("haproxy",pid=1100,fd=9))',
  'tcp   LISTEN 0      128       0.0.0.0%mgmt0:2222       0.0.0.0:*    users:(("sshd",pid=701,fd=3))',
  'tcp   LISTEN 0      128            127.0.0.1:5432       0.0.0.0:*',
  '',
].join('\n');

describe('listening sockets', () => {
  it("splits ss's local address column", () => {
    expect(splitLocal('0.0.0.0:22')).toEqual({ address: '0.0.0.0', boundInterface: undefined, port: 22 });
    expect(splitLocal('[::]:80')).toEqual({ address: '::', boundInterface: undefined, port: 80 });
    expect(splitLocal('*:9090')).toEqual({ address: '*', boundInterface: undefined, port: 9090 });
    expect(splitLocal('127.0.0.53%lo:53')).toEqual({ address: '127.0.0.53', boundInterface: 'lo', port: 53 });
    expect(splitLocal('[fe80::1]%eth0:123')).toEqual({ address: 'fe80::1', boundInterface: 'eth0', port: 123 });
    expect(splitLocal('nonsense')).toBeUndefined();
    expect(splitLocal('1.2.3.4:99999')).toBeUndefined();
  });

  it('parses every line, the owning process where ss tells it (a name with a space too)', () => {
    const all = parseListeners(SS);
    expect(all).toHaveLength(10);
    expect(all[3]).toEqual({ protocol: 'tcp', address: '*', boundInterface: undefined, port: 80, process: 'nginx', pid: 801 });
    expect(all[5]!.process).toBe('Web Content');
    expect(all[9]).toMatchObject({ address: '127.0.0.1', port: 5432, process: '', pid: 0 });
    expect(parseListeners('')).toEqual([]);
    expect(() => parseListeners('Cannot open netlink socket: Protocol not supported\n')).toThrow(/no socket line/);
  });

  it('keeps the sockets reachable on a public interface only', () => {
    const pub = new Set(['203.0.113.10', '2001:db8:1::10']);
    const keys = publicListeners(parseListeners(SS), ['pub0'], pub).map((l) => `${l.protocol} ${l.address}:${l.port}`);
    // Wildcards and the public addresses; never loopback, the management address, or a socket bound to the management interface.
    expect(keys).toEqual(['udp 0.0.0.0:68', 'tcp 0.0.0.0:22', 'tcp *:80', 'tcp 203.0.113.10:8080', 'tcp :::22', 'tcp 2001:db8:1::10:443']);
  });

  it("reads the public interfaces' addresses from ip -j addr show", () => {
    const json = JSON.stringify([
      { ifname: 'lo', addr_info: [{ local: '127.0.0.1' }] },
      { ifname: 'pub0', addr_info: [{ local: '203.0.113.10' }, { local: '2001:db8:1::10' }] },
      { ifname: 'mgmt0', addr_info: [{ local: '10.255.0.10' }] },
    ]);
    expect([...interfaceAddresses(json, ['pub0'])]).toEqual(['203.0.113.10', '2001:db8:1::10']);
    expect(() => interfaceAddresses('oops', ['pub0'])).toThrow(/not JSON/);
  });
});
