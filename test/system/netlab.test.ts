import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetLab } from '../helpers/netns.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';

const gate = systemTestGate(['ip']);
explainSkip('netlab.test.ts', gate);

describe.skipIf(!gate.ok)('the namespace fixture', () => {
  let lab: NetLab;
  beforeAll(async () => {
    lab = NetLab.create('fixture');
    await lab.listen(lab.internet, [25, 80]);
    await lab.listen(lab.host, [22]);
  });
  afterAll(() => lab?.destroy());

  it('connects the host to the internet over IPv4 and IPv6, and the management side to the host', () => {
    expect(lab.probe(lab.host, lab.addr.inet4, 80)).toBe('connected');
    expect(lab.probe(lab.host, lab.addr.inet6, 25)).toBe('connected');
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
    expect(lab.probe(lab.mgmt, lab.addr.hostMgmt4, 22)).toBe('connected');
    expect(lab.probe(lab.mgmt, lab.addr.hostMgmt6, 22)).toBe('connected');
    expect(lab.probe(lab.host, lab.addr.inet4, 81)).toBe('refused');
  });

  it('removes its namespaces on destroy', () => {
    const other = NetLab.create('gone');
    const names = [other.host, other.internet, other.mgmt];
    other.destroy();
    const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    for (const n of names) expect(list).not.toContain(n);
  });
});
