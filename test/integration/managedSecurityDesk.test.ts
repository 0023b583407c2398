import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListeningSocket } from '../../proto/gen/cordon/v1/agent.js';
import { DeskWebLab } from '../helpers/deskWebLab.js';
import { connectRawAgent } from '../helpers/rawAgent.js';
import { waitFor } from '../helpers/waitFor.js';
import { testManagedSecurity } from '../helpers/managedSecurity.js';

/**
 * Managed security over the real agent stream and on the desk: an agent's
 * lists of listening sockets (its own host only) become the baseline and
 * a reported new socket, which the desk's audit page shows to any operator;
 * an agent of a host without managed security records nothing.
 */
describe('managed security on the desk', () => {
  let lab: DeskWebLab;
  beforeAll(async () => {
    lab = await DeskWebLab.start({
      settings: () => ({
        managedSecurity: testManagedSecurity({ hosts: ['web-01'], listenerCheckSeconds: 60 }),
      }),
    });
  });
  afterAll(async () => lab?.stop());

  const sock = (port: number, process: string): ListeningSocket => ({ protocol: 'tcp', address: '0.0.0.0', port, process, pid: 4000 + port });

  it("takes the agent's lists, and the desk's audit page shows the new socket", async () => {
    const agent = await connectRawAgent(lab.pki.material('agent-web-01'), lab.controller.server.port, 'web-01');
    try {
      await waitFor('the managed-security policy', () => agent.received.find((m) => m.body?.$case === 'managedSecurity'));
      const policy = agent.received.find((m) => m.body?.$case === 'managedSecurity')!.body!;
      expect(policy.$case === 'managedSecurity' && policy.value.listenerCheckSeconds).toBe(60);
      await agent.send({ body: { $case: 'listeners', value: { sockets: [sock(22, 'sshd')], observedAt: new Date() } } });
      await waitFor('the baseline', async () => (await lab.controller.store.audit.list({ subject: 'web-01' })).some((e) => e.action === 'sockets.baseline'));
      await agent.send({ body: { $case: 'listeners', value: { sockets: [sock(22, 'sshd'), sock(31337, 'backdoor<script>')], observedAt: new Date() } } });
      await waitFor('the new socket', async () => (await lab.controller.store.audit.list({ subject: 'web-01' })).some((e) => e.action === 'sockets.new'));
    } finally {
      agent.close();
    }
    const page = await lab.request('operator-vic', '/audit?action=sockets.&subject=web-01');
    expect(page.status).toBe(200);
    expect(page.body).toContain('sockets.new');
    expect(page.body).toContain('agent:web-01');
    expect(page.body).toContain('tcp 0.0.0.0:31337 backdoor');
    // What the agent says is escaped like everything else on the desk.
    expect(page.body).not.toContain('backdoor<script>');
  });

  it('an agent of a host without managed security is told it is off, and nothing it sends is recorded', async () => {
    lab.pki.agent('web-02');
    const agent = await connectRawAgent(lab.pki.material('agent-web-02'), lab.controller.server.port, 'web-02');
    try {
      await agent.send({ body: { $case: 'listeners', value: { sockets: [sock(22, 'sshd')], observedAt: new Date() } } });
      await agent.send({ body: { $case: 'ban', value: { banId: `${Date.now()}-198.51.100.7`, address: '198.51.100.7', change: 'banned', services: ['ssh'], bannedAt: new Date(), expiresAt: new Date(Date.now() + 60_000), offence: 1, seconds: 60, seq: 0n } } });
      await new Promise((r) => setTimeout(r, 500));
      // Told off, not left with whatever policy its state file still holds from before.
      const told = agent.received.filter((m) => m.body?.$case === 'managedSecurity').map((m) => (m.body?.$case === 'managedSecurity' ? m.body.value : undefined));
      expect(told).toHaveLength(1);
      expect(told[0]).toMatchObject({ enabled: false, services: [] });
    } finally {
      agent.close();
    }
    expect((await lab.controller.store.audit.list({ subject: 'web-02' })).filter((e) => e.action.startsWith('sockets.') || e.action.startsWith('guard.'))).toEqual([]);
  });
});
