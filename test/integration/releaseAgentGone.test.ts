import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cordonctl } from '../helpers/cordonctl.js';
import { DeskWebLab } from '../helpers/deskWebLab.js';

/**
 * The operator's side of a release that is not confirmed, through the built
 * cordonctl and DeskService: `incident release` leaves it `releasing` and
 * says what it waits for; hosts, host show and incident show (and --json)
 * show the lift as not confirmed, with since when; `release --agent-gone`
 * needs a reason and an abuse operator, is refused while Cordon still holds
 * the switch port shut, and then releases with its own mail, audited.
 */
describe('a release the agent never confirms, at the desk', () => {
  let lab: DeskWebLab;
  const ctl = cordonctl(() => lab.controller.server.port, () => lab.pki.dir);
  let id = '';
  const mails = async (template: string) =>
    (await lab.controller.store.outbox.mailsOfIncident(id, 100)).filter((m) => (m.payload as { template?: string }).template === template).length;

  beforeAll(async () => {
    lab = await DeskWebLab.start();
    // web-02's agent never connects: the block is decided, never confirmed.
    id = await lab.controller.service.enforceHost('web-02', { kind: 'smtp_block' }, 'spam run seen live', 'olga');
    await lab.controller.service.apply(id, { type: 'customer_fixed' }, 'customer');
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it('shows the restriction as not confirmed everywhere, then the release as releasing with what it waits for', async () => {
    const hosts = await ctl('vic', 'hosts');
    expect(hosts.code, hosts.err).toBe(0);
    expect(hosts.out.split('\n')[0]).toMatch(/^HOST\s+CUSTOMER\s+AGENT\s+ENFORCEMENT\s+MANAGEMENT/);
    expect(hosts.out).toMatch(/^web-02\s+acme\s+never-seen\s+unconfirmed since \S+Z\s/m);
    expect(hosts.out).toMatch(/^web-03\s+acme\s+never-seen\s+none\s/m);

    const released = await ctl('olga', 'incident', 'release', id);
    expect(released.code, released.err).toBe(0);
    expect(released.out).toMatch(new RegExp(`^${id}: releasing\\n  the customer is told once the lift is confirmed; now: lift NOT CONFIRMED since \\S+: lift not confirmed: agent not heard from since the controller started`));
    expect(released.out).toContain(`cordonctl incident release ${id} --agent-gone --reason R`);
    expect(await mails('released')).toBe(0);
    // Asked again: nothing new, nothing sent.
    expect((await ctl('olga', 'incident', 'release', id)).out).toMatch(new RegExp(`^${id}: releasing`));
    expect(await mails('released')).toBe(0);

    const show = await ctl('vic', 'incident', 'show', id);
    expect(show.out).toMatch(/enforcement on web-02: lift NOT CONFIRMED since \S+: lift not confirmed: agent not heard from/);
    const json = JSON.parse((await ctl('vic', 'incident', 'show', id, '--json')).out) as { incident: { state: string }; host: { observed: { observed: string; reason: string; since: string } } };
    expect(json.incident.state).toBe('releasing');
    expect(json.host.observed).toMatchObject({ observed: 'lifting', since: expect.stringMatching(/Z$/) });
    expect((await ctl('vic', 'host', 'show', 'web-02')).out).toMatch(/observed:\s+lift NOT CONFIRMED/);
  });

  it('release --agent-gone: a reason, an abuse operator, the switch port open first; then released with its own mail, audited', async () => {
    const noReason = await ctl('olga', 'incident', 'release', id, '--agent-gone');
    expect(noReason.code).not.toBe(0);
    expect(noReason.err).toMatch(/--reason: is required/);
    const viewer = await ctl('vic', 'incident', 'release', id, '--agent-gone', '--reason', 'gone');
    expect(viewer.code).not.toBe(0);
    expect(viewer.err).toMatch(/permission|abuse_operator/i);

    const store = lab.controller.store;
    await store.switches.set('web-02', { switchId: 'sw1', address: '10.0.0.2', user: 'cordon', privateKeyFile: '/k', hostKeySha256: 'SHA256:' + 'A'.repeat(43), vendor: 'linux', hostPort: 'swp2', protectedPorts: [] });
    await store.switches.markPort('web-02', true, 'agent silent for 91 s', new Date(), false);
    await store.switches.markFailed('web-02', 'transient', 'connect timeout', new Date());
    const shut = await ctl('olga', 'incident', 'release', id, '--agent-gone', '--reason', 'agent gone for a week');
    expect(shut.code).not.toBe(0);
    expect(shut.err).toMatch(/switch port of web-02 is still shut by Cordon; the switch is failing \(transient since .*: connect timeout\)/);
    expect((await store.incidents.get(id))!.state).toBe('releasing');

    await store.switches.markPort('web-02', false, 'the host no longer should be cut', new Date(), true);
    const done = await ctl('olga', 'incident', 'release', id, '--agent-gone', '--reason', 'agent gone for a week');
    expect(done.code, done.err).toBe(0);
    expect(done.out).toBe(`${id}: released\n`);
    expect(await mails('released_agent_gone')).toBe(1);
    expect(await mails('released')).toBe(0);
    const audit = await store.db.all<{ actor: string; detail_json: string }>("SELECT actor, detail_json FROM audit_log WHERE action = 'incident.operator_release_agent_gone'");
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor).toBe('olga');
    expect(audit[0]!.detail_json).toContain('agent gone for a week');
  });
});
