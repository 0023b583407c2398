import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../controller/clock.js';
import { CustomerLinks } from '../../controller/customer/CustomerLinks.js';
import { runController, type Controller } from '../../controller/runController.js';
import { openTestStore } from '../helpers/testStore.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { freePort } from '../helpers/freePort.js';
import { TestPki } from '../helpers/pki.js';
import { testManagedSecurity } from '../helpers/managedSecurity.js';

/**
 * The customer page on a real controller: a SQLite file, the real fastify
 * listener on loopback, plain HTTP requests as a browser or an attacker
 * would send them. Each source address is set with X-Forwarded-For from the
 * trusted proxy (127.0.0.1), so the per-address limit of one case does not
 * leak into another, and the recorded address is the customer's.
 */
const T0 = new Date('2026-11-02T09:00:00Z');
const DAY = 86_400_000;
const MAX_FILE = 64 * 1024;
const LIMIT = 5;

describe('customer page over HTTP', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  let links: CustomerLinks;
  let base: string;
  const clock = new ManualClock(T0);
  const secret = randomBytes(32);

  /** Opens an incident on a host by an operator's hand-entered complaint, and records its notice as sent. */
  const openIncident = async (ip: string, opts: { reporter?: string; kind?: string; excerpt?: string; raw?: string; evidence?: string } = {}) => {
    const r = await controller.service.submitComplaint(
      {
        ip,
        category: 'spam',
        reporter: opts.reporter ?? 'Mail Watch',
        reporterKind: opts.kind ?? 'individual',
        eventTime: new Date(T0.getTime() - 3_600_000),
        evidence: opts.evidence ?? `spam from ${ip}`,
        raw: opts.raw ?? `raw report about ${ip}`,
        excerpt: opts.excerpt,
      },
      'olga',
    );
    expect(r.outcome).toBe('opened');
    await controller.service.apply(r.incidentId!, { type: 'notice_sent' }, 'mail');
    return r.incidentId!;
  };
  /** The page link of an incident: the notice's own link when the notice made one, else a new one. */
  const tokenOf = async (incidentId: string) => {
    const incident = (await controller.store.incidents.get(incidentId))!;
    const customer = (await controller.store.customers.get(incident.customerId))!;
    const id = await links.ensure(incident, customer.email, 'test', clock.now());
    return links.url(id).split('/c/')[1]!;
  };
  const get = (path: string, from: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers: { 'x-forwarded-for': from, ...headers }, redirect: 'manual' });
  /** GET the page as a browser: the cookie it sets and each form's hidden fields. */
  const openPage = async (token: string, from: string) => {
    const res = await get(`/c/${token}`, from);
    const html = await res.text();
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    const form = (answer: string) => {
      const m = new RegExp(`<form[^>]*id="form-${answer}"[\\s\\S]*?</form>`).exec(html);
      if (!m) return undefined;
      const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(m[0])?.[1] ?? '';
      return { csrf: field('csrf'), submission: field('submission') };
    };
    return { res, html, cookie, form };
  };
  const post = (token: string, from: string, cookie: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${base}/c/${token}/answer`, {
      method: 'POST',
      headers: { 'x-forwarded-for': from, cookie, 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'PageTest/1.0', ...headers },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    });
  const messages = (id: string) => controller.store.customerMessages.listByIncident(id);
  const state = async (id: string) => (await controller.store.incidents.get(id))!.state;

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-page-'));
    const store = await openTestStore(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await store.customers.upsert({ id: 'beta', name: 'Beta', email: 'noc@beta.example' });
    for (let n = 1; n <= 13; n++) {
      await store.hosts.add({ id: `web-0${n}`, customerId: n === 9 ? 'beta' : 'acme', publicPrefixes: [`203.0.113.${n}/32`, `2001:db8:${n}::/48`], managementAddress: `10.255.0.${n}` });
    }
    await store.bmcs.set({ hostId: 'web-01', protocol: 'ipmi', address: '10.255.1.1', port: 623, user: 'cordon', passwordFile: join(work, 'pw'), sol: false, cipherSuite: undefined });
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    controller = await runController(
      controllerSettings(pki, store, {
        clock,
        customerLinks: { secret, publicUrl, ttlDays: 1 },
        customerWeb: { listen: `127.0.0.1:${port}`, tls: undefined, publicUrl, trustProxy: ['127.0.0.1'], badTokensPerMinute: LIMIT, maxFiles: 2, maxFileBytes: MAX_FILE },
        // For the managed-security page's routes (/s/) beside the incident pages' (/c/): one host took it.
        managedSecurity: testManagedSecurity({ hosts: ['web-13'], resyncSeconds: 60 }),
      }),
    );
    expect(controller.customerWebPort).toBe(port);
    base = publicUrl;
    links = new CustomerLinks(store, { secret, publicUrl, ttlDays: 1 });
  });
  afterAll(async () => {
    await controller?.stop(200);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('shows the customer their incident: server, own address and excerpt only, reporter, times, deadlines, console; with the security headers', async () => {
    const id = await openIncident('203.0.113.1', {
      reporter: 'Example CERT',
      kind: 'cert',
      raw: 'RAW-MANY-NETWORKS 192.0.2.77 other network',
      excerpt: 'EXCERPT-OWN 203.0.113.1 sent spam',
    });
    const page = await openPage(await tokenOf(id), '198.51.100.10');
    expect(page.res.status).toBe(200);
    for (const text of [id, 'web-01', '203.0.113.1/32', '2001:db8:1::/48', 'EXCERPT-OWN 203.0.113.1 sent spam', 'Example CERT', '10.255.1.1', 'Waiting for your answer.']) {
      expect(page.html).toContain(text);
    }
    expect(page.html).toContain('spam'); // the category in words
    expect(page.html).toContain('2026-11-02 08:00 UTC'); // when it happened
    expect(page.html).toContain('2026-11-02 09:00 UTC'); // when we received it
    expect(page.html).toContain('2026-11-03 09:00 UTC'); // acknowledge by (24 h)
    expect(page.html).toContain('2026-11-05 09:00 UTC'); // resolve by (72 h)
    expect(page.html).toMatch(/If it is not acknowledged by then, the incident escalates/);
    expect(page.html).not.toContain('RAW-MANY-NETWORKS');
    expect(page.html).not.toContain('192.0.2.77');
    expect(page.form('ack')).toBeDefined();
    expect(page.form('fixed')).toBeDefined();
    expect(page.form('false_positive')).toBeDefined();
    expect(page.form('plan')).toBeDefined();
    const h = page.res.headers;
    expect(h.get('content-security-policy')).toBe("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    expect(h.get('x-content-type-options')).toBe('nosniff');
    expect(h.get('referrer-policy')).toBe('no-referrer');
    expect(h.get('cache-control')).toBe('no-store');
    expect(h.get('x-frame-options')).toBe('DENY');
    expect(h.get('set-cookie')).toMatch(/^cordon_csrf=[A-Za-z0-9_-]{43}; Path=\/c\/; HttpOnly; SameSite=Strict$/);
    // The stylesheet and the script come from /static/ with the same headers.
    const css = await get('/static/page.css', '198.51.100.10');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(css.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await get('/healthz', '198.51.100.10')).status).toBe(200);
  });

  it('answers every token that opens nothing with the same 404 and no data', async () => {
    const good = await tokenOf(await openIncident('203.0.113.2'));
    const flipped = `${good.slice(0, 10)}${good[10] === 'A' ? 'B' : 'A'}${good.slice(11)}`;
    const revokedId = await openIncident('203.0.113.3');
    const revoked = await tokenOf(revokedId);
    await controller.store.customerLinks.revokeAll(revokedId, 'olga', clock.now());
    // Another customer's link whose notice address changed since: it opens nothing now.
    const betaId = await openIncident('203.0.113.9');
    const beta = await tokenOf(betaId);
    expect((await get(`/c/${beta}`, '198.51.100.20')).status).toBe(200);
    await controller.store.customers.upsert({ id: 'beta', name: 'Beta', email: 'new-noc@beta.example' });
    const answers = [];
    for (const [n, token] of [flipped, revoked, beta, 'short', randomBytes(32).toString('base64url'), `${good}x`].entries()) {
      const res = await get(`/c/${token}`, `198.51.100.${30 + n}`);
      const headers = Object.fromEntries([...res.headers].filter(([k]) => k !== 'date'));
      answers.push({ status: res.status, headers, body: await res.text() });
    }
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]!.status).toBe(404);
    expect(answers[0]!.headers['set-cookie']).toBeUndefined();
    expect(answers[0]!.body).toContain('This link does not open a page');
    expect(answers[0]!.body).not.toMatch(/inc-|web-0|acme|beta/i);
    // The file route of a good token with an unknown file id answers the same.
    const file = await get(`/c/${good}/files/file-${'0'.repeat(24)}`, '198.51.100.40');
    expect(file.status).toBe(404);
    expect(await file.text()).toBe(answers[0]!.body);
  });

  it('gives an address 429 on every token route once it spent its wrong tokens, and nobody else', async () => {
    const token = await tokenOf(await openIncident('203.0.113.4'));
    const prober = '192.0.2.200';
    for (let n = 0; n < LIMIT; n++) expect((await get(`/c/${randomBytes(32).toString('base64url')}`, prober)).status).toBe(404);
    const blocked = await get(`/c/${randomBytes(32).toString('base64url')}`, prober);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await get(`/c/${token}`, prober)).status).toBe(429);
    // Another address of the same /64 counts as the same subscriber; a different customer is not slowed.
    const v6 = '2001:db8:77:1::1';
    for (let n = 0; n < LIMIT; n++) await get(`/c/${randomBytes(32).toString('base64url')}`, `2001:db8:77:1::${n + 2}`);
    expect((await get(`/c/${token}`, v6)).status).toBe(429);
    expect((await get(`/c/${token}`, '198.51.100.50')).status).toBe(200);
  });

  it('counts wrong links to the managed-security page and to incident pages against one allowance per address', async () => {
    const token = await tokenOf(await openIncident('2001:db8:13::7'));
    const prober = '192.0.2.210';
    const half = Math.floor(LIMIT / 2);
    for (let n = 0; n < half; n++) expect((await get(`/s/${randomBytes(32).toString('base64url')}`, prober)).status).toBe(404);
    for (let n = half; n < LIMIT; n++) expect((await get(`/c/${randomBytes(32).toString('base64url')}`, prober)).status).toBe(404);
    expect((await get(`/s/${randomBytes(32).toString('base64url')}`, prober)).status).toBe(429);
    expect((await get(`/c/${token}`, prober)).status).toBe(429);
    expect((await get(`/c/${token}`, '198.51.100.51')).status).toBe(200);
  });

  it('refuses a POST without the cookie and form pair, or from another origin, with 403 and records nothing', async () => {
    const id = await openIncident('203.0.113.5');
    const token = await tokenOf(id);
    const from = '198.51.100.60';
    const page = await openPage(token, from);
    const form = page.form('ack')!;
    const attempts = [
      post(token, from, '', { answer: 'ack', submission: form.submission, csrf: form.csrf }), // no cookie
      post(token, from, page.cookie, { answer: 'ack', submission: form.submission }), // no field
      post(token, from, `cordon_csrf=${randomBytes(32).toString('base64url')}`, { answer: 'ack', submission: form.submission, csrf: form.csrf }), // another browser's cookie
      post(token, from, page.cookie, { answer: 'ack', submission: form.submission, csrf: form.csrf }, { origin: 'https://evil.example' }),
      // A page with Referrer-Policy no-referrer makes the browser send Origin: null; Sec-Fetch-Site still tells.
      post(token, from, page.cookie, { answer: 'ack', submission: form.submission, csrf: form.csrf }, { origin: 'null', 'sec-fetch-site': 'cross-site' }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(403);
      expect(await res.text()).toMatch(/nothing was recorded/);
    }
    // A field made for another link's page does not open this one.
    const other = await openPage(await tokenOf(await openIncident('203.0.113.6')), from);
    const res = await post(token, from, other.cookie, { answer: 'ack', submission: form.submission, csrf: other.form('ack')!.csrf });
    expect(res.status).toBe(403);
    expect(await messages(id)).toEqual([]);
    expect(await state(id)).toBe('notified');
  });

  it('records an answer as the customer (address, browser, link), once per submission; a refused state gets 409 in words', async () => {
    const id = await openIncident('203.0.113.7');
    const token = await tokenOf(id);
    const from = '198.51.100.70';
    const page = await openPage(token, from);
    const ack = page.form('ack')!;
    // As Chromium sends it from the page (see the browser test): Origin null under no-referrer, same-origin fetch.
    const first = await post(token, from, page.cookie, { answer: 'ack', submission: ack.submission, csrf: ack.csrf }, { origin: 'null', 'sec-fetch-site': 'same-origin' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe(`${base}/c/${token}`);
    const again = await post(token, from, page.cookie, { answer: 'ack', submission: ack.submission, csrf: ack.csrf });
    expect(again.status).toBe(303);
    expect(await state(id)).toBe('acknowledged');
    const msgs = await messages(id);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatchObject({ channel: 'page', kind: 'answer', answer: 'ack', actor: 'customer', sourceAddress: from, userAgent: 'PageTest/1.0', submissionId: ack.submission });
    const events = (await controller.store.events.list(id)).filter((e) => e.type === 'customer_ack');
    expect(events).toHaveLength(1);
    const link = (await controller.store.customerLinks.listByIncident(id)).at(-1)!;
    expect(events[0]).toMatchObject({ actor: 'customer', detail: { channel: 'page', sourceAddress: from, userAgent: 'PageTest/1.0', link: link.id } });
    // The stale page's second acknowledge form (a new submission id): the state no longer allows it.
    const stale = await post(token, from, page.cookie, { answer: 'ack', submission: randomBytes(16).toString('base64url'), csrf: ack.csrf });
    expect(stale.status).toBe(409);
    expect(await stale.text()).toMatch(/You can no longer acknowledge it here, because the incident has moved on: You acknowledged it/);
    expect(await messages(id)).toHaveLength(1);
    // The page after the redirect shows what was recorded and offers no acknowledge any more.
    const after = await openPage(token, from);
    expect(after.html).toMatch(/Acknowledged<\/strong>/);
    expect(after.form('ack')).toBeUndefined();
  });

  it('refuses a bad plan naming the field and its limit, and keeps what was typed', async () => {
    const id = await openIncident('203.0.113.8');
    const token = await tokenOf(id);
    const from = '198.51.100.80';
    const page = await openPage(token, from);
    const plan = page.form('plan')!;
    const far = new Date(T0.getTime() + 40 * DAY).toISOString().slice(0, 10);
    const res = await post(token, from, page.cookie, { answer: 'plan', submission: plan.submission, csrf: plan.csrf, text: 'Reinstall & <patch>', planDueAt: far });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('planDueAt: may be at most 30 days from now (policy.maxPlanDays)');
    expect(html).toContain('Reinstall &amp; &lt;patch&gt;</textarea>');
    const empty = await post(token, from, page.cookie, { answer: 'fixed', submission: page.form('fixed')!.submission, csrf: plan.csrf, text: '  ' });
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('text: please describe what you did to fix it');
    expect(await messages(id)).toEqual([]);
    // Within the limit, in the browser's time zone: the end of that day there.
    const ok = await post(token, from, page.cookie, { answer: 'plan', submission: plan.submission, csrf: plan.csrf, text: 'Reinstall', planDueAt: '2026-11-10', tz: '+02:00' });
    expect(ok.status).toBe(303);
    expect((await controller.store.incidents.get(id))!).toMatchObject({ state: 'plan_accepted', resolveDueAt: new Date('2026-11-10T21:59:00Z') });
  });

  it('takes evidence files within the limits, serves them back only as attachments, and escapes everything untrusted', async () => {
    const id = await openIncident('203.0.113.10', { reporter: '<img src=x onerror=alert(1)>Evil CERT', kind: 'cert', evidence: '<script>alert("reporter")</script>' });
    const token = await tokenOf(id);
    const from = '198.51.100.90';
    const page = await openPage(token, from);
    const fp = page.form('false_positive')!;
    const send = (files: { name: string; bytes: Buffer }[], submission = fp.submission) => {
      const body = new FormData();
      body.set('csrf', fp.csrf);
      body.set('submission', submission);
      body.set('answer', 'false_positive');
      body.set('text', '<script>alert("customer")</script> our mail server is closed');
      for (const f of files) body.append('files', new Blob([f.bytes], { type: 'text/html' }), f.name);
      return fetch(`${base}/c/${token}/answer`, { method: 'POST', headers: { 'x-forwarded-for': from, cookie: page.cookie }, body, redirect: 'manual' });
    };
    const big = await send([{ name: 'big.bin', bytes: Buffer.alloc(MAX_FILE + 1, 1) }]);
    expect(big.status).toBe(413);
    expect(await big.text()).toContain('each file may be at most 64 KiB (web.customer.maxFileBytes)');
    const many = await send([1, 2, 3].map((n) => ({ name: `f${n}.txt`, bytes: Buffer.from('x') })));
    expect(many.status).toBe(413);
    expect(await many.text()).toContain('at most 2 files may go with one answer (web.customer.maxFiles)');
    expect(await messages(id)).toEqual([]);

    const evil = Buffer.from('<html><script>alert(document.cookie)</script></html>');
    const ok = await send([{ name: '../../"evil".html', bytes: evil }]);
    expect(ok.status).toBe(303);
    expect(await state(id)).toBe('disputed');
    const files = await controller.store.customerMessages.listFiles(id);
    expect(files).toHaveLength(1);
    const res = await get(`/c/${token}/files/${files[0]!.id}`, from);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    // No path, no quote survives into the header (the browser sent the quotes as %22).
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="[A-Za-z0-9._-]*evil[A-Za-z0-9._-]*\.html"; filename\*=UTF-8''[A-Za-z0-9._-]+$/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
    expect(Buffer.from(await res.arrayBuffer()).equals(evil)).toBe(true);

    const html = (await openPage(token, from)).html;
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(&quot;customer&quot;)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;Evil CERT');
    expect(html).toContain('Waiting for a person of the abuse desk.');
  });

  it('while a restriction is in force: shows it in words, offers the appeal, and then says a person decides', async () => {
    const id = await openIncident('203.0.113.12');
    await controller.service.apply(id, { type: 'operator_enforce', operator: 'olga', action: { kind: 'smtp_block' }, reason: 'spam run' }, 'olga');
    expect(await state(id)).toBe('enforcing');
    const token = await tokenOf(id);
    const from = '198.51.100.110';
    const page = await openPage(token, from);
    expect(page.html).toContain('outbound SMTP (ports 25, 465, 587) blocked');
    expect(page.html).toContain('Contest this restriction (false positive)');
    expect(page.form('ack')).toBeUndefined();
    expect(page.form('plan')).toBeUndefined();
    const fp = page.form('false_positive')!;
    const body = new FormData();
    for (const [k, v] of Object.entries({ csrf: fp.csrf, submission: fp.submission, answer: 'false_positive', text: 'Those mails were our newsletter, double opt-in.' })) body.set(k, v);
    const res = await fetch(`${base}/c/${token}/answer`, { method: 'POST', headers: { 'x-forwarded-for': from, cookie: page.cookie }, body, redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(await state(id)).toBe('appealed');
    const after = await openPage(token, from);
    expect(after.html).toContain('Waiting for a person of the abuse desk.');
    expect(after.html).toContain('You contested the restriction. It stays in force until a person of the abuse desk decides.');
    expect(after.html).toContain('outbound SMTP (ports 25, 465, 587) blocked');
    // The desk's decisions are on the page with the reasons given, escaped like everything an operator typed.
    expect(after.html).toContain('The abuse desk restricted the server: outbound SMTP (ports 25, 465, 587) blocked.');
    expect(after.html).toContain('<pre>spam run</pre>');
    await controller.service.apply(id, { type: 'operator_reject_dispute', operator: 'olga', reason: 'The trap <b>hits</b> were not opted in.' }, 'olga');
    const decided = await openPage(token, from);
    expect(decided.html).toContain('The abuse desk did not accept your answer; the complaint stands.');
    expect(decided.html).toContain('<pre>The trap &lt;b&gt;hits&lt;/b&gt; were not opted in.</pre>');
    expect(decided.html.indexOf('The abuse desk restricted the server')).toBeLessThan(decided.html.indexOf('did not accept your answer'));
  });

  it('shows a closed incident read-only within the link ttl, and 404 after it', async () => {
    const id = await openIncident('203.0.113.11');
    const token = await tokenOf(id);
    const from = '198.51.100.100';
    const page = await openPage(token, from);
    const fixed = page.form('fixed')!;
    expect((await post(token, from, page.cookie, { answer: 'fixed', submission: fixed.submission, csrf: fixed.csrf, text: 'removed the spam script' })).status).toBe(303);
    await controller.service.apply(id, { type: 'operator_verify', operator: 'olga' }, 'olga');
    const closed = await openPage(token, from);
    expect(closed.html).toContain('This incident is over; this page only shows it.');
    expect(closed.html).not.toContain('<form');
    expect(closed.html).toContain('removed the spam script');
    const late = await post(token, from, page.cookie, { answer: 'fixed', submission: randomBytes(16).toString('base64url'), csrf: fixed.csrf, text: 'again' });
    expect(late.status).toBe(409);
    clock.set(new Date(clock.now().getTime() + 2 * DAY));
    const expired = await get(`/c/${token}`, from);
    expect(expired.status).toBe(404);
    expect(await expired.text()).toContain('This link does not open a page');
  });
});
