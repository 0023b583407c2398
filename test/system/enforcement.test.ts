import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { createEngine } from '../../agent/createEngine.js';
import type { Engine } from '../../agent/enforce/Engine.js';
import { parseDesired } from '../../agent/enforce/parseDesired.js';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { NetLab, inNs } from '../helpers/netns.js';
import { DIST, REPO_ROOT } from '../helpers/paths.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';

const gate = systemTestGate(['ip', 'nft', 'tc']);
explainSkip('enforcement.test.ts', gate);

const EXAMPLES = join(REPO_ROOT, 'deploy/examples');
const RELAY = '203.0.113.25';

describe.skipIf(!gate.ok)('enforcement on a real host (network namespaces, nft, ip link)', () => {
  let lab: NetLab;
  let container: string;
  let engine: Engine;
  let stateDir: string;
  let generation = 0;

  const settings = () => {
    stateDir = mkdtempSync(join(tmpdir(), 'cordon-agent-state-'));
    return loadAgentConfig({ file: join(EXAMPLES, 'agent.json'), env: { CORDON_AGENT_STATE_DIR: stateDir } }).getProperties();
  };
  const apply = (...actions: Record<string, unknown>[]) =>
    engine.converge(
      parseDesired({ generation: String(++generation), enforcements: actions.map((a, i) => ({ id: `e${generation}-${i}`, incidentId: `inc-${i}`, reason: 'system test', ...a })) }),
    );
  const nftTable = (name: string) => spawnSync('ip', ['netns', 'exec', lab.host, 'nft', 'list', 'table', 'inet', name], { encoding: 'utf8' });
  /** Runs the built agent inside the host namespace, as an operator would on the server. */
  const agentCli = (args: string[], env: Record<string, string> = {}) =>
    spawnSync('ip', ['netns', 'exec', lab.host, process.execPath, join(DIST, 'agent/main.js'), '--config', join(EXAMPLES, 'agent.json'), ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, CORDON_AGENT_STATE_DIR: stateDir, ...env },
      timeout: 30_000,
    });

  beforeAll(async () => {
    lab = NetLab.create('enf');
    container = lab.addContainer();
    inNs(lab.internet, 'ip', 'addr', 'add', `${RELAY}/24`, 'dev', 'inet0');
    await lab.listen(lab.internet, [25, 465, 587, 80]);
    await lab.listen(lab.host, [22]);
    engine = createEngine(settings(), silentLogger(), new ExecRunner(lab.host));
  });
  afterAll(() => lab?.destroy());

  it('SMTP_BLOCK refuses outbound SMTP over IPv4 and IPv6, also from a container, but not the relay or port 80', async () => {
    const r = await apply({ smtpBlock: { allowedRelays: [RELAY] } });
    expect(r.outcomes.map((o) => o.status)).toEqual(['applied']);
    for (const port of [25, 465, 587]) expect(lab.probe(lab.host, lab.addr.inet4, port)).toBe('refused');
    expect(lab.probe(lab.host, lab.addr.inet6, 25)).toBe('refused');
    expect(lab.probe(lab.host, lab.addr.inet4, 80)).toBe('connected');
    expect(lab.probe(lab.host, RELAY, 25)).toBe('connected');
    expect(lab.probe(container, lab.addr.inet4, 25)).toBe('refused');
    expect(lab.probe(container, lab.addr.inet4, 80)).toBe('connected');

    await apply();
    expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('connected');
    expect(nftTable('cordon').status).not.toBe(0);
  });

  it('applying the same state twice changes nothing on the host', async () => {
    const state = parseDesired({ generation: String(++generation), enforcements: [{ id: 'x', incidentId: 'i', reason: 'r', smtpBlock: {} }] });
    await engine.converge(state);
    const before = spawnSync('ip', ['netns', 'exec', lab.host, 'nft', '-a', 'list', 'table', 'inet', 'cordon'], { encoding: 'utf8' }).stdout;
    const again = await engine.converge(state);
    const after = spawnSync('ip', ['netns', 'exec', lab.host, 'nft', '-a', 'list', 'table', 'inet', 'cordon'], { encoding: 'utf8' }).stdout;
    expect(again.unchanged).toBe(true);
    expect(after).toBe(before); // same rule handles: the table was not replaced
  });

  it('ISOLATE drops public traffic both ways and keeps the management network', async () => {
    const r = await apply({ isolate: {} }, { smtpBlock: {} });
    expect(r.outcomes.map((o) => o.status)).toEqual(['applied', 'applied']);
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22, 800)).toBe('timeout');
    expect(lab.probe(lab.internet, lab.addr.hostPub6, 22, 800)).toBe('timeout');
    expect(lab.probe(lab.host, lab.addr.inet4, 80, 800)).toBe('timeout');
    expect(lab.probe(container, lab.addr.inet4, 80, 800)).toBe('timeout');
    expect(lab.probe(lab.mgmt, lab.addr.hostMgmt4, 22)).toBe('connected');
    expect(lab.probe(lab.mgmt, lab.addr.hostMgmt6, 22)).toBe('connected');

    await apply({ smtpBlock: {} });
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
    expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('refused');
  });

  it('NIC_DOWN sets the public link down and keeps management up; releasing raises it', async () => {
    const r = await apply({ nicDown: {} });
    expect(r.outcomes[0]!.status).toBe('applied');
    const links = JSON.parse(inNs(lab.host, 'ip', '-j', 'link', 'show')) as { ifname: string; flags: string[] }[];
    expect(links.find((l) => l.ifname === 'pub0')!.flags).not.toContain('UP');
    expect(links.find((l) => l.ifname === 'mgmt0')!.flags).toContain('UP');
    expect(lab.probe(lab.mgmt, lab.addr.hostMgmt4, 22)).toBe('connected');

    await apply();
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
  });

  it('refuses NIC_DOWN when the public interface carries the management path, changing nothing', async () => {
    inNs(lab.host, 'ip', 'addr', 'add', '10.255.200.1/32', 'dev', 'pub0');
    try {
      const r = await apply({ nicDown: {} });
      expect(r.outcomes[0]).toMatchObject({ status: 'refused', error: expect.stringMatching(/pub0 carries management address 10.255.200.1/) });
      expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
    } finally {
      inNs(lab.host, 'ip', 'addr', 'del', '10.255.200.1/32', 'dev', 'pub0');
    }
    await apply();
  });

  it('repairs a third party deleting its table and says what it found', async () => {
    await apply({ smtpBlock: {} });
    inNs(lab.host, 'nft', 'delete', 'table', 'inet', 'cordon');
    expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('connected');
    const tamper = await engine.checkDrift();
    expect(tamper).toEqual({ found: ['nft table inet cordon missing'], restored: ['restored: nft table inet cordon missing'] });
    expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('refused');
    await apply();
  });

  it("leaves a customer's own nft table and qdisc exactly as they were", async () => {
    const customer = 'table inet customer {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\ttcp dport 9999 counter drop\n\t}\n}\n';
    spawnSync('ip', ['netns', 'exec', lab.host, 'nft', '-f', '-'], { input: customer });
    inNs(lab.host, 'tc', 'qdisc', 'add', 'dev', 'ctr0', 'root', 'handle', '5:', 'tbf', 'rate', '900mbit', 'burst', '256k', 'latency', '50ms');
    const snapshot = () => [nftTable('customer').stdout, inNs(lab.host, 'tc', 'qdisc', 'show', 'dev', 'ctr0')].join('\n');
    const before = snapshot();
    await apply({ smtpBlock: {} }, { isolate: {} });
    expect(snapshot()).toBe(before);
    await apply();
    await engine.releaseAll();
    expect(snapshot()).toBe(before);
    inNs(lab.host, 'nft', 'delete', 'table', 'inet', 'customer');
    inNs(lab.host, 'tc', 'qdisc', 'del', 'dev', 'ctr0', 'root');
  });

  describe('cordon-agent on the command line', () => {
    it('applies the README example and releases it with none.json', () => {
      stateDir = mkdtempSync(join(tmpdir(), 'cordon-cli-'));
      const r = agentCli(['apply', '--state', join(EXAMPLES, 'smtp-block.json')]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^APPLIED smtp_block enf-1001 \(incident inc-2026-0042\)$/m);
      expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('refused');

      const status = agentCli(['status', '--json']);
      expect(JSON.parse(status.stdout)).toMatchObject({ generation: '1', enforcements: [{ kind: 'smtp_block', status: 'applied' }] });

      const none = agentCli(['apply', '--state', join(EXAMPLES, 'none.json')]);
      expect(none.status).toBe(0);
      expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('connected');
    });

    it.each([
      ['malformed JSON', '{"generation": "9", ', /is not valid JSON/],
      ['an unknown kind', { generation: '9', enforcements: [{ id: 'a', incidentId: 'i', reason: 'r', blackhole: {} }] }, /enforcements\[0\].blackhole: unknown field/],
      ['a negative rate', { generation: '9', enforcements: [{ id: 'a', incidentId: 'i', reason: 'r', throttle: { rateBps: -1 } }] }, /enforcements\[0\].throttle.rateBps: must be a positive integer/],
      ['a generation rollback', { generation: '1', enforcements: [{ id: 'a', incidentId: 'i', reason: 'r', isolate: {} }] }, /generation: generation 1 is older than generation 5/],
    ])('refuses %s with the field named, applying nothing', (_what, content, message) => {
      const file = join(stateDir, 'bad.json');
      writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
      const r = agentCli(['apply', '--state', file]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(nftTable('cordon').status).not.toBe(0);
      expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
    });

    it('release-all removes everything and apply-saved keeps it released', () => {
      const statePath = join(stateDir, 'iso.json');
      writeFileSync(statePath, JSON.stringify({ generation: '6', enforcements: [{ id: 'a', incidentId: 'i', reason: 'r', isolate: {} }] }));
      expect(agentCli(['apply', '--state', statePath]).status).toBe(0);
      expect(lab.probe(lab.internet, lab.addr.hostPub4, 22, 800)).toBe('timeout');
      const rel = agentCli(['release-all']);
      expect(rel.status).toBe(0);
      expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
      const saved = agentCli(['apply-saved']);
      expect(saved.stdout).toMatch(/REFUSED isolate a .*released locally/);
      expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
    });
  });
});
