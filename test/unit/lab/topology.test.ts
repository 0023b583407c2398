import { describe, expect, it } from 'vitest';
import { labNamespaces, labTopology, MAX_HOSTS } from '../../../deploy/lab/topology.js';
import { ensureLabRequirements } from '../../../deploy/lab/requirements.js';
import { cidrContains, parseCidr } from '../../../proto/runtime/cidr.js';

const isInCidr = (ip: string, cidr: string) => cidrContains(parseCidr(cidr), ip);

describe('the lab topology', () => {
  it('gives every server distinct names and addresses, all inside the lab ranges', () => {
    const t = labTopology(MAX_HOSTS);
    const all = [t.controller4, t.switch4, ...t.hosts.flatMap((h) => [h.pub4, h.mgmt4, h.bmc4, h.pub6])];
    expect(new Set(all).size).toBe(all.length);
    expect(new Set(labNamespaces(t)).size).toBe(MAX_HOSTS + 3);
    for (const h of t.hosts) {
      expect(isInCidr(h.pub4, t.pubNet4)).toBe(true);
      expect(isInCidr(h.mgmt4, t.mgmtNet4)).toBe(true);
      expect(isInCidr(h.bmc4, t.mgmtNet4)).toBe(true);
      // Linux interface names are at most 15 bytes.
      expect(h.ns.length).toBeLessThanOrEqual(30);
      expect(h.switchPort.length).toBeLessThanOrEqual(15);
    }
    // The switch's sshd is on the management network, where the controller reaches it; its management port is no host's.
    expect(isInCidr(t.switch4, t.mgmtNet4)).toBe(true);
    expect(t.hosts.map((h) => h.mgmtPort)).not.toContain(t.switchMgmtPort);
    expect(t.hosts[0]).toMatchObject({ id: 'web-01', pub4: '203.0.113.11', mgmt4: '10.70.0.11', bmc4: '10.70.0.101', ns: 'cordon-lab-h1' });
  });

  it.each([0, -1, 1.5, MAX_HOSTS + 1, Number.NaN])('refuses %s servers, naming the flag', (n) => {
    expect(() => labTopology(n)).toThrow(/--hosts must be a whole number from 1 to 40/);
  });
});

describe('the lab requirements', () => {
  it('tells a non-root user in one line what it needs', () => {
    let message = '';
    try {
      ensureLabRequirements(() => {}, 'the demo', 1000);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^the demo needs root: .*sudo$/);
    expect(message).not.toContain('\n');
  });
});
