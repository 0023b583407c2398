import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsSettings } from '../../controller/alerts/alertsSettings.js';
import { runController, type Controller } from '../../controller/runController.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { postAlert } from '../helpers/postAlert.js';
import { TestPki } from '../helpers/pki.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { recordingLog } from '../helpers/recordingLog.js';
import { openTestStore } from '../helpers/testStore.js';

const CS_TOKEN = 'c'.repeat(40);
const FNM_TOKEN = 'f'.repeat(40);
const alerts = () => JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/alerts/crowdsec-ssh-bf.json'), 'utf8')) as Record<string, unknown>[];
const details = 'IP: 203.0.113.9\nAttack type: udp_flood\nInitial attack power: 52000 packets per second\nAttack direction: outgoing\nAttack protocol: udp\n';
const notice = (over: Record<string, unknown> = {}) => JSON.stringify({ ip: '203.0.113.9', direction: 'outgoing', pps: 52000, action: 'ban', detailsBase64: Buffer.from(details).toString('base64'), ...over });

/** The alerts listener of a real controller (HTTPS with its certificate): who may post, and what each alert becomes. */
describe('alerts listener', () => {
  let pki: TestPki;
  let dir: string;
  let controller: Controller;
  let ca: Buffer;
  const rec = recordingLog('info');
  const post = (path: string, body: string | Buffer, opts: { token?: string; contentType?: string } = {}) => postAlert(controller.alerts!.port, path, body, { ca, ...opts });
  const complaints = async () => (await Promise.all((['linked', 'rejected', 'needs_info', 'duplicate', 'held'] as const).map((s) => controller.store.complaints.listByStatus(s)))).flat();

  beforeAll(async () => {
    pki = new TestPki();
    ca = readFileSync(join(pki.dir, 'ca.crt'));
    dir = mkdtempSync(join(tmpdir(), 'cordon-alerts-it-'));
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      chmodSync(join(dir, name), 0o600);
      return join(dir, name);
    };
    const store = await openTestStore(join(dir, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await store.hosts.add({ id: 'web-07', customerId: 'acme', publicPrefixes: ['203.0.113.7/32'], managementAddress: '10.255.0.7' });
    await store.hosts.add({ id: 'web-09', customerId: 'acme', publicPrefixes: ['203.0.113.9/32'], managementAddress: '10.255.0.9' });
    const tls = pki.controller();
    const settings = alertsSettings(
      {
        listen: '127.0.0.1:0',
        tls: true,
        sources: [
          { id: 'edge-crowdsec', kind: 'crowdsec', tokenFile: file('cs.token', `${CS_TOKEN}\n`) },
          { id: 'core-fnm', kind: 'fastnetmon', tokenFile: file('fnm.token', FNM_TOKEN) },
        ],
      },
      tls,
    );
    controller = await runController(controllerSettings(pki, store, { alerts: settings, log: rec.log }));
  });

  afterAll(async () => {
    await controller?.stop();
    await controller?.store.close();
    pki?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a post without the source token, with a wrong one, or to another kind\'s route; stores nothing and logs the address', async () => {
    const body = JSON.stringify(alerts());
    expect(await post('/alerts/crowdsec', body)).toEqual({ status: 401, json: { error: 'an Authorization: Bearer token is required' } });
    expect(await post('/alerts/crowdsec', body, { token: 'x'.repeat(40) })).toEqual({ status: 401, json: { error: 'the token is not valid' } });
    expect(await post('/alerts/crowdsec', body, { token: FNM_TOKEN })).toEqual({ status: 403, json: { error: 'source core-fnm is a fastnetmon source: post to /alerts/fastnetmon' } });
    expect(await post('/alerts/fastnetmon', notice(), { token: CS_TOKEN })).toMatchObject({ status: 403 });
    expect(await complaints()).toEqual([]);
    const refusals = rec.lines.filter((l) => String(l.msg).startsWith('alert refused'));
    expect(refusals.map((l) => l.from)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1']);
    expect(refusals.map((l) => l.source ?? null)).toEqual([null, null, 'core-fnm', 'edge-crowdsec']);
  });

  it('refuses what is not JSON, too large or malformed, naming the field, and files nothing', async () => {
    expect(await post('/alerts/crowdsec', 'scenario=ssh-bf', { token: CS_TOKEN, contentType: 'text/plain' })).toEqual({ status: 415, json: { error: 'the body must be JSON (Content-Type: application/json)' } });
    expect((await post('/alerts/crowdsec', '[{', { token: CS_TOKEN })).status).toBe(400);
    expect((await post('/alerts/crowdsec', Buffer.alloc(1024 * 1024 + 10, 0x20), { token: CS_TOKEN })).status).toBe(413);
    const bad = alerts();
    bad.push({ scenario: 'crowdsecurity/ssh-bf', source: { ip: '203.0.113.7' } });
    expect(await post('/alerts/crowdsec', JSON.stringify(bad), { token: CS_TOKEN })).toEqual({ status: 400, json: { error: '[1].source.scope: is required', field: '[1].source.scope' } });
    expect(await post('/alerts/fastnetmon', notice({ ip: 'web-09' }), { token: FNM_TOKEN })).toEqual({ status: 400, json: { error: 'ip: "web-09" is not an IP address', field: 'ip' } });
    expect(await complaints()).toEqual([]);
  });

  it('files a CrowdSec alert about our address as an own_monitoring complaint; a repeat is a duplicate', async () => {
    const r = await post('/alerts/crowdsec', JSON.stringify(alerts()), { token: CS_TOKEN });
    expect(r.status).toBe(202);
    const [filed] = r.json.complaints as { complaint: string; outcome: string; incident: string }[];
    expect(filed).toMatchObject({ outcome: 'opened' });
    const c = await controller.store.complaints.get(filed!.complaint);
    expect(c).toMatchObject({ ip: '203.0.113.7', category: 'brute_force', reporter: 'crowdsec:edge-crowdsec', reporterKind: 'own_monitoring', trusted: true, status: 'linked' });
    expect(c!.evidence).toContain('raised scenario crowdsecurity/ssh-bf against Ip 203.0.113.7');
    expect((await controller.store.incidents.get(filed!.incident))).toMatchObject({ hostId: 'web-07', category: 'brute_force' });
    const again = await post('/alerts/crowdsec', JSON.stringify(alerts()), { token: CS_TOKEN });
    expect(again.json.complaints).toEqual([expect.objectContaining({ outcome: 'duplicate', incident: filed!.incident })]);
  });

  it('keeps an unknown scenario as needs_info and rejects an address that is not ours', async () => {
    const [a] = alerts();
    const unknown = { ...a, scenario: 'crowdsecurity/CVE-2022-26134', stop_at: '2024-05-02T00:00:00Z' };
    const foreign = { ...a, source: { scope: 'Ip', ip: '198.51.100.1', value: '198.51.100.1' } };
    const r = await post('/alerts/crowdsec', JSON.stringify([unknown, foreign]), { token: CS_TOKEN });
    expect(r.status).toBe(202);
    expect(r.json.complaints).toEqual([
      expect.objectContaining({ outcome: 'needs_info', reason: expect.stringContaining('has no Cordon category') }),
      expect.objectContaining({ outcome: 'rejected', reason: '198.51.100.1 is not in any of our public prefixes' }),
    ]);
    const kept = await controller.store.complaints.listByStatus('needs_info');
    expect(kept).toEqual([expect.objectContaining({ ip: '203.0.113.7', reporter: 'crowdsec:edge-crowdsec', category: 'other' })]);
    // The plugin posting the same alerts again (a retry): the question is not queued for an operator twice.
    const again = await post('/alerts/crowdsec', JSON.stringify([unknown, foreign]), { token: CS_TOKEN });
    expect(again.json.complaints).toEqual([
      expect.objectContaining({ outcome: 'duplicate', reason: `repeats complaint ${kept[0]!.id} (same message-id), which waits for an operator` }),
      expect.objectContaining({ outcome: 'rejected' }),
    ]);
    expect((await controller.store.complaints.listByStatus('needs_info')).map((c) => c.id)).toEqual([kept[0]!.id]);
    const copy = await controller.store.complaints.get((again.json.complaints as { complaint: string }[])[0]!.complaint);
    expect(copy).toMatchObject({ status: 'duplicate', duplicateOf: kept[0]!.id });
  });

  it('files an outgoing FastNetMon ban as ddos against the sender; an incoming attack files nothing', async () => {
    const before = (await complaints()).length;
    const incoming = await post('/alerts/fastnetmon', notice({ direction: 'incoming' }), { token: FNM_TOKEN });
    expect(incoming).toEqual({ status: 202, json: { complaints: [], ignored: expect.stringContaining('direction incoming') } });
    expect((await complaints()).length).toBe(before);
    expect(controller.alerts!.intake.counts.ignored).toBe(1);
    const r = await post('/alerts/fastnetmon', notice(), { token: FNM_TOKEN });
    expect(r.status).toBe(202);
    const [filed] = r.json.complaints as { complaint: string; outcome: string }[];
    expect(filed!.outcome).toBe('opened');
    expect(await controller.store.complaints.get(filed!.complaint)).toMatchObject({ ip: '203.0.113.9', category: 'ddos', reporter: 'fastnetmon:core-fnm', reporterKind: 'own_monitoring' });
  });
});
