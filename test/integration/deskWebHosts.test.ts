import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskWebLab } from '../helpers/deskWebLab.js';
import { connectRawAgent, type RawAgent } from '../helpers/rawAgent.js';

/**
 * The fleet page over real HTTPS with client certificates: a real agent
 * stream (web-01) against the controller's gRPC port, an enforcement in force
 * through IncidentService, and searches by every key an operator has.
 */
describe('the desk in the browser: hosts and the fleet', () => {
  let lab: DeskWebLab;
  let agent: RawAgent;
  let enforced: string;

  beforeAll(async () => {
    lab = await DeskWebLab.start();
    agent = await connectRawAgent(lab.pki.material('agent-web-01'), lab.controller.server.port, 'web-01');
    enforced = await lab.open('203.0.113.2');
    await lab.controller.service.apply(enforced, { type: 'operator_enforce', operator: 'olga', action: { kind: 'smtp_block', ports: [25, 587] }, reason: 'open relay <b>x</b>' }, 'olga');
  });
  afterAll(async () => {
    agent?.close();
    await lab?.stop();
  });

  const rowOf = (body: string, host: string) => body.match(new RegExp(`<tr data-host="${host}">([\\s\\S]*?)</tr>`))?.[1] ?? '';

  it('shows a viewer every host with its agent, generations, what is in force and why, and no forms but the search', async () => {
    const r = await lab.request('operator-vic', '/hosts');
    expect(r.status).toBe(200);
    expect(r.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(r.body).toMatch(/5 hosts: 1 connected, 0 stale, 0 disconnected, 4 never seen\./);
    expect(rowOf(r.body, 'web-01')).toMatch(/agent-connected">connected/);
    expect(rowOf(r.body, 'web-01')).toMatch(/\d+ s ago/);
    const row = rowOf(r.body, 'web-02');
    expect(row).toMatch(/never seen/);
    expect(row).toMatch(/0 of 1 <span class="dispatch">\(agent unreachable\)/);
    expect(row).toContain(`href="/incidents/${enforced}"`);
    expect(row).toMatch(/SMTP/i);
    // The reason is the operator's text: shown, never run.
    expect(row).toContain('open relay &lt;b&gt;x&lt;/b&gt;');
    expect(rowOf(r.body, 'web-03')).toMatch(/0 of 0 .*applied[\s\S]*none[\s\S]*never checked/);
    expect(r.body).not.toMatch(/method="post"/);
  });

  it('finds hosts by address, prefix, host id, customer id and incident id', async () => {
    const hostsFor = async (q: string) => [...(await lab.request('operator-vic', `/hosts?q=${encodeURIComponent(q)}`)).body.matchAll(/<tr data-host="([^"]+)">/g)].map((m) => m[1]);
    expect(await hostsFor('203.0.113.4')).toEqual(['web-04']);
    expect(await hostsFor('203.0.113.0/30')).toEqual(['web-01', 'web-02', 'web-03']);
    expect(await hostsFor('web-05')).toEqual(['web-05']);
    expect(await hostsFor('acme')).toHaveLength(5);
    expect(await hostsFor(enforced)).toEqual(['web-02']);
    expect(await hostsFor('198.51.100.7')).toEqual([]);
    expect(await hostsFor('inc-nope')).toEqual([]);
  });

  it('echoes a hostile search as text and refuses a long or repeated one naming the field', async () => {
    const xss = await lab.request('operator-vic', `/hosts?q=${encodeURIComponent('"><script>alert(1)</script>')}`);
    expect(xss.status).toBe(200);
    expect(xss.body).not.toContain('<script>alert(1)');
    expect(xss.body).toContain('&quot;&gt;&lt;script&gt;');
    const long = await lab.request('operator-vic', `/hosts?q=${'x'.repeat(201)}`);
    expect(long.status).toBe(400);
    expect(long.body).toMatch(/q: at most 200 characters, got 201/);
    const twice = await lab.request('operator-vic', '/hosts?q=a&q=b');
    expect(twice.status).toBe(400);
    expect(twice.body).toMatch(/q: one search term/);
  });

  it('shows one host in detail and refuses an unknown one in words', async () => {
    const r = await lab.request('operator-tess', '/hosts/web-02');
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/<h1>Host web-02<\/h1>/);
    expect(r.body).toContain('ACME');
    expect(r.body).toContain('10.255.0.2');
    expect(r.body).toContain(`href="/incidents/${enforced}"`);
    const live = await lab.request('operator-ada', '/hosts/web-01');
    expect(live.body).toMatch(/agent-connected">connected<\/span>, version raw/);
    const none = await lab.request('operator-vic', '/hosts/nope%3Cb%3E');
    expect(none.status).toBe(404);
    expect(none.body).toMatch(/no host nope&lt;b&gt;/);
  });

  it('refuses agents and feeds: the fleet is for operators', async () => {
    expect((await lab.request('agent-web-01', '/hosts')).status).toBe(403);
    expect((await lab.request('feed-shadow', '/hosts/web-01')).status).toBe(403);
  });
});
