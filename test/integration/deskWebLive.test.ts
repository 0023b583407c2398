import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskClient } from '../../controller/cli/deskClient.js';
import { SubmitComplaintRequest, type EnforceResponse } from '../../proto/gen/cordon/v1/desk.js';
import { openDeskEvents, type DeskEventStream } from '../helpers/deskEvents.js';
import { DeskWebLab } from '../helpers/deskWebLab.js';
import { connectRawAgent, type RawAgent } from '../helpers/rawAgent.js';

/**
 * Live updates from everywhere: a real controller, a real SSE client over
 * HTTPS with a viewer's certificate, and changes that never pass through the
 * incident service (DeskService calls over gRPC that write the store
 * directly, complaints that open no incident, agents coming and going).
 * Each must reach the open stream within a second; reads must not.
 */
describe('the desk in the browser: live updates from every change', () => {
  let lab: DeskWebLab;
  let stream: DeskEventStream;
  const clients: DeskClient[] = [];
  const agents: RawAgent[] = [];
  const grpcAs = (name: string) => {
    const c = new DeskClient({ address: `127.0.0.1:${lab.controller.server.port}`, serverName: 'localhost', tls: lab.pki.material(`operator-${name}`) }, { timeoutMs: 5_000 });
    clients.push(c);
    return c;
  };

  /** Waits until the stream is quiet, runs `change`, and expects an event within 1 s of it returning. */
  const expectLive = async (change: () => Promise<unknown>) => {
    const seen = await stream.quiet(300);
    await change();
    const started = Date.now();
    await stream.after(seen, 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
  };

  beforeAll(async () => {
    lab = await DeskWebLab.start();
    stream = openDeskEvents(lab, 'operator-vic');
    await stream.ready;
  });
  afterAll(async () => {
    stream?.close();
    for (const a of agents) a.close();
    for (const c of clients) c.close();
    await lab?.stop();
  });

  it('sends nothing while nothing changes, even while pages and gRPC read', async () => {
    const seen = await stream.quiet(300);
    for (const path of ['/', '/hosts', '/approvals', '/audit', '/health', '/hosts/web-01']) expect((await lab.request('operator-vic', path)).status).toBe(200);
    await grpcAs('vic').call('listApprovals', {});
    await grpcAs('vic').call('getHost', { id: 'web-01' });
    await new Promise((r) => setTimeout(r, 400));
    expect(stream.count).toBe(seen);
  });

  it('a customer message marked seen over gRPC (MarkMessagesSeen)', async () => {
    const id = await lab.open('203.0.113.1');
    await lab.controller.store.customerMessages.insert({
      id: 'msg-live-1', incidentId: id, at: new Date(), channel: 'page', kind: 'answer', answer: 'fixed', planDueAt: undefined, body: 'fixed it', actor: 'customer',
      sourceAddress: undefined, userAgent: undefined, messageId: undefined, submissionId: 'sub-live-1', rawSha256: undefined,
    });
    await expectLive(() => grpcAs('olga').call('markMessagesSeen', { incidentId: id, messageId: '' }));
    expect((await lab.controller.store.customerMessages.get('msg-live-1'))?.seenBy).toBe('olga');
  });

  it('a host added over gRPC (AddHost by a technician)', async () => {
    await expectLive(() =>
      grpcAs('tess').call('addHost', { host: { id: 'web-09', customerId: 'acme', publicPrefixes: ['203.0.113.9/32'], managementAddress: '10.255.0.9', agentState: 0, customerName: '', customerEmail: '' } }),
    );
  });

  it('a customer contact changed over gRPC (SetCustomerContact)', async () => {
    await expectLive(() => grpcAs('olga').call('setCustomerContact', { customerId: 'acme', email: 'abuse@acme.example', name: '', reason: 'the customer asked by phone' }));
  });

  it('a reporter added over gRPC (AddReporter)', async () => {
    await expectLive(() =>
      grpcAs('ada').call('addReporter', { reporter: { id: 'cert-live', name: 'CERT Live', kind: 'cert', domains: ['cert-live.example'], arcForwarder: false, feed: '', source: '', addedBy: '', addedAt: undefined } }),
    );
  });

  it('a report that becomes needs_info, and one rejected as not ours, opening no incident', async () => {
    await expectLive(() => grpcAs('olga').call('submitComplaint', SubmitComplaintRequest.fromPartial({ raw: 'Hello, your server is bad. Please fix it.\n' })));
    await expectLive(() => grpcAs('olga').call('submitComplaint', SubmitComplaintRequest.fromPartial({ ip: '198.51.100.7', category: 'spam', reporterKind: 'upstream', raw: 'spam' })).catch(() => undefined));
  });

  it('an approval requested through Enforce', async () => {
    let r: EnforceResponse | undefined;
    await expectLive(async () => {
      r = await grpcAs('olga').call<unknown, EnforceResponse>('enforce', {
        incidentId: '', hostIds: ['web-03', 'web-04'], customerId: '', action: { action: { $case: 'throttle', value: { rateBps: 1_000_000n } } }, reason: 'flood from both',
      });
    });
    expect(r?.approvalId).toMatch(/^apr-/);
  });

  it('an agent connecting, reporting and disconnecting', async () => {
    let agent: RawAgent | undefined;
    await expectLive(async () => {
      agent = await connectRawAgent(lab.pki.material('agent-web-01'), lab.controller.server.port, 'web-01');
      agents.push(agent);
    });
    await expectLive(() => agent!.report({ driftRepairs: 3n }));
    await expectLive(async () => agent!.close());
  });
});
