import { request as httpsRequest } from 'node:https';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestPki } from '../helpers/pki.js';
import { csrfOf, DeskWebLab, type DeskResponse } from '../helpers/deskWebLab.js';

/**
 * The desk in the browser over real HTTPS with client certificates from
 * deploy/pki/cordon-pki: who gets in (the handshake), who may do what (the
 * same authorize as DeskService), and what a forged or cross-site POST gets.
 */
describe('the desk in the browser, over mutual TLS', () => {
  let lab: DeskWebLab;
  let foreign: TestPki;
  const state = async (id: string) => (await lab.controller.store.incidents.get(id))!.state;
  const decide = (who: string, id: string, form: Record<string, string>, csrf: { cookie: string; field: string } | undefined, headers: Record<string, string> = {}): Promise<DeskResponse> =>
    lab.request(who, `/incidents/${id}/decide`, {
      method: 'POST',
      body: new URLSearchParams({ ...(csrf ? { csrf: csrf.field } : {}), ...form }).toString(),
      headers: { ...(csrf ? { cookie: csrf.cookie } : {}), origin: lab.origin, 'sec-fetch-site': 'same-origin', ...headers },
    });

  beforeAll(async () => {
    lab = await DeskWebLab.start({ maxEventClients: 2 });
    foreign = new TestPki();
    foreign.operator('olga', 'admin');
  });
  afterAll(async () => {
    await lab?.stop();
    foreign?.cleanup();
  });

  it('refuses at the handshake a browser without a certificate, or with one from another CA', async () => {
    await expect(lab.request('operator-olga', '/', { credentials: null })).rejects.toThrow(/alert certificate required/);
    const stranger = { cert: readFileSync(join(foreign.dir, 'operator-olga.crt')), key: readFileSync(join(foreign.dir, 'operator-olga.key')) };
    await expect(lab.request('operator-olga', '/', { credentials: stranger })).rejects.toThrow(/unknown ca|socket hang up|ECONNRESET/i);
  });

  it('refuses TLS renegotiation: a connection admitted as one operator cannot become another', async () => {
    // DeskAccess reads a connection's certificate once; a TLS 1.2 renegotiation could otherwise present another.
    const socket = connect({
      host: '127.0.0.1',
      port: lab.controller.deskWebPort!,
      maxVersion: 'TLSv1.2',
      ca: readFileSync(join(lab.pki.dir, 'ca.crt')),
      cert: readFileSync(join(lab.pki.dir, 'operator-vic.crt')),
      key: readFileSync(join(lab.pki.dir, 'operator-vic.key')),
      servername: 'cordon-controller',
      checkServerIdentity: () => undefined,
    });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    expect(socket.getProtocol()).toBe('TLSv1.2');
    const outcome = await new Promise<string>((resolve) => {
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
      socket.once('close', () => resolve('closed'));
      // On loopback a renegotiation the server accepts completes in milliseconds; a refused one ends or never answers.
      setTimeout(() => resolve('no answer'), 2_000);
      socket.renegotiate({ rejectUnauthorized: true }, (err) => resolve(err ? `refused ${err.message}` : 'renegotiated'));
    });
    socket.destroy();
    expect(outcome).not.toBe('renegotiated');
  });

  it('refuses agents and feeds with 403: the desk is for operators', async () => {
    const agent = await lab.request('agent-web-01', '/');
    expect(agent.status).toBe(403);
    expect(agent.body).toMatch(/is for operator certificates only/);
    const feed = await lab.request('feed-shadow', '/');
    expect(feed.status).toBe(403);
    expect(feed.body).toMatch(/not open to feed certificates/);
  });

  it('shows a viewer the queue and the incident, with no forms, and refuses their forged POST', async () => {
    const id = await lab.resolved('203.0.113.1');
    const queue = await lab.request('operator-vic', '/');
    expect(queue.status).toBe(200);
    expect(queue.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
    expect(queue.body).toContain(`href="/incidents/${id}"`);
    expect(queue.body).toMatch(/customer resolved<\/span>: the customer says fixed: verify/);
    const page = await lab.request('operator-vic', `/incidents/${id}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('customer_resolved');
    // Evidence is text: the reporter's markup is shown, never run.
    expect(page.body).toContain('spam from 203.0.113.1 &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.body).not.toContain('<script>alert(1)');
    expect(page.body).not.toMatch(/<form/);
    // A valid CSRF pair (the abuse operator's page's) does not help: the role is checked first, as for DeskService.
    const pair = csrfOf(await lab.request('operator-olga', `/incidents/${id}`));
    const forged = await decide('operator-vic', id, { decision: 'verify' }, pair);
    expect(forged.status).toBe(403);
    expect(forged.body).toMatch(/DeskService\/DecideIncident needs role abuse_operator or above; vic is viewer/);
    expect(await state(id)).toBe('customer_resolved');
    expect((await lab.controller.store.audit.list({ subject: id })).filter((a) => a.actor === 'vic')).toEqual([]);
  });

  it('lets an abuse operator verify, audited under their name, and answers 303 back to the incident', async () => {
    const id = await lab.resolved('203.0.113.2');
    const page = await lab.request('operator-olga', `/incidents/${id}`);
    expect(page.body).toMatch(/<form method="post" action="\/incidents\/[^"]+\/decide" id="form-verify"/);
    const pair = csrfOf(page);
    expect(([] as string[]).concat(page.headers['set-cookie'] ?? []).join()).toMatch(/HttpOnly; SameSite=Strict; Secure/);
    const r = await decide('operator-olga', id, { decision: 'verify', reason: 'relay closed, checked' }, pair);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe(`/incidents/${id}?done=verify`);
    expect(await state(id)).toBe('closed');
    const audit = await lab.controller.store.audit.list({ subject: id });
    expect(audit.filter((a) => a.actor === 'olga')).toEqual([expect.objectContaining({ actor: 'olga' })]);
    const after = await lab.request('operator-olga', r.headers.location as string, { headers: { cookie: pair.cookie } });
    expect(after.body).toMatch(/id="done">Verify: done\./);
  });

  it('refuses a POST without the CSRF pair, with another operator\'s pair, or from another site; nothing changes', async () => {
    const id = await lab.resolved('203.0.113.3');
    const missing = await decide('operator-olga', id, { decision: 'verify' }, undefined);
    expect(missing.status).toBe(403);
    expect(missing.body).toMatch(/CSRF check failed/);
    // A pair from another operator's page is bound to their certificate.
    const adas = csrfOf(await lab.request('operator-ada', `/incidents/${id}`));
    expect((await decide('operator-olga', id, { decision: 'verify' }, adas)).status).toBe(403);
    const own = csrfOf(await lab.request('operator-olga', `/incidents/${id}`));
    const crossSite = await decide('operator-olga', id, { decision: 'verify' }, own, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body).toMatch(/did not come from the desk&#39;s own page/);
    expect(await state(id)).toBe('customer_resolved');
  });

  it("words the handler's refusals for people: a missing reason, a decision the state does not allow, a bad field", async () => {
    const id = await lab.open('203.0.113.4');
    const pair = csrfOf(await lab.request('operator-olga', `/incidents/${id}`));
    const noReason = await decide('operator-olga', id, { decision: 'dismiss', reason: '  ' }, pair);
    expect(noReason.status).toBe(400);
    expect(noReason.body).toMatch(/reason: a dismissal needs a reason/);
    const wrongState = await decide('operator-olga', id, { decision: 'release' }, pair);
    expect(wrongState.status).toBeGreaterThanOrEqual(400);
    expect(wrongState.status).toBeLessThan(500);
    expect(wrongState.body).toContain('notified');
    const bad = await decide('operator-olga', id, { decision: 'explode' }, pair);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/decision: must be one of verify, reject_dispute, dismiss, release/);
    const long = await decide('operator-olga', id, { decision: 'dismiss', reason: 'x'.repeat(2001) }, pair);
    expect(long.status).toBe(400);
    expect(long.body).toMatch(/reason: at most 2000 characters, got 2001/);
    expect(await state(id)).toBe('notified');
    const none = await lab.request('operator-olga', '/incidents/inc-nope');
    expect(none.status).toBe(404);
    expect(none.body).toMatch(/no incident inc-nope/);
  });

  it('streams a change to open pages within a second, and bounds the streams', async () => {
    const first = openStream(lab, 'operator-vic');
    const second = openStream(lab, 'operator-olga');
    await Promise.all([first.ready, second.ready]);
    const third = await lab.request('operator-vic', '/events');
    expect(third.status).toBe(503);
    expect(third.body).toMatch(/too many live-update streams/);
    const started = Date.now();
    await lab.open('203.0.113.5');
    await first.change;
    expect(Date.now() - started).toBeLessThan(1000);
    first.close();
    second.close();
  });

  it('refuses a revoked certificate on the next request', async () => {
    lab.pki.operator('rex', 'admin');
    expect((await lab.request('operator-rex', '/')).status).toBe(200);
    lab.pki.run('revoke', join(lab.pki.dir, 'operator-rex.crt'));
    const r = await lab.request('operator-rex', '/');
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/is revoked/);
  });
});

/** A live-update stream as `who`: `ready` once the server answered 200, `change` at the first change event. */
function openStream(lab: DeskWebLab, who: string): { ready: Promise<void>; change: Promise<void>; close(): void } {
  const f = lab.files(who);
  let onReady!: () => void;
  let onChange!: () => void;
  let onError!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onError = reject;
  });
  const change = new Promise<void>((resolve) => (onChange = resolve));
  let text = '';
  const req = httpsRequest(
    { host: '127.0.0.1', port: lab.controller.deskWebPort, path: '/events', ca: lab.pki.controller().ca, cert: readFileSync(f.certPath), key: readFileSync(f.keyPath), agent: false },
    (res) => {
      if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) onError(new Error(`stream answered ${res.statusCode}`));
      res.on('data', (c: Buffer) => {
        text += c.toString('utf8');
        if (text.includes('retry:')) onReady();
        if (text.includes('event: change')) onChange();
      });
    },
  );
  req.on('error', (err) => onError(err));
  req.end();
  return { ready, change, close: () => req.destroy() };
}
