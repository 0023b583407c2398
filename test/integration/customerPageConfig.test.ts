import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../proto/runtime/logger.js';
import { systemClock } from '../../controller/clock.js';
import { CustomerLinks } from '../../controller/customer/CustomerLinks.js';
import { CustomerVoice } from '../../controller/customer/CustomerVoice.js';
import { DEFAULT_POLICY } from '../../controller/incidents/policy.js';
import { Store } from '../../controller/store/Store.js';
import { customerWebSettings, type CustomerWebConfig } from '../../controller/web/customer/customerWebSettings.js';
import { startCustomerWeb } from '../../controller/web/customer/startCustomerWeb.js';
import { IncidentService } from '../../controller/services/IncidentService.js';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';

/** `web.customer.*` at start and in `--check-config`, and the page served over its own TLS certificate. */
describe('customer page settings', () => {
  let pki: TestPki;
  let work: string;
  const base: CustomerWebConfig = {
    listen: '127.0.0.1:0',
    publicUrl: 'https://abuse.example.net',
    tls: { cert: '', key: '' },
    trustProxy: [],
    badTokensPerMinute: 10,
    maxFiles: 5,
    maxFileBytes: 1024,
  };
  const refusal = (over: Partial<CustomerWebConfig>) => {
    try {
      customerWebSettings({ ...base, ...over });
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };

  beforeAll(() => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-page-config-'));
  });
  afterAll(() => {
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('refuses plain HTTP off loopback, a missing or insecure publicUrl, half a key pair, a bad proxy address', () => {
    expect(customerWebSettings({ ...base, listen: '' })).toBeUndefined();
    expect(refusal({})).toBe('accepted');
    expect(refusal({ listen: '[::1]:8080' })).toBe('accepted');
    expect(refusal({ listen: '0.0.0.0:8080' })).toMatch(/^web\.customer\.listen: 0\.0\.0\.0:8080 is not a loopback address: plain HTTP/);
    expect(refusal({ listen: '192.0.2.10:443' })).toMatch(/^web\.customer\.listen: /);
    expect(refusal({ publicUrl: '' })).toMatch(/^web\.customer\.publicUrl: is required/);
    expect(refusal({ publicUrl: 'http://abuse.example.net' })).toMatch(/^web\.customer\.publicUrl: .* must be https:\/\//);
    expect(refusal({ publicUrl: 'https://abuse.example.net/?x=1' })).toMatch(/^web\.customer\.publicUrl: may not carry a query/);
    expect(refusal({ tls: { cert: join(pki.dir, 'controller.crt'), key: '' } })).toMatch(/^web\.customer\.tls\.key: /);
    expect(refusal({ listen: '0.0.0.0:8443', tls: { cert: join(pki.dir, 'controller.crt'), key: join(pki.dir, 'ca.key') } })).toMatch(/^web\.customer\.tls\.key: .* is not the private key/);
    expect(refusal({ listen: '0.0.0.0:8443', tls: { cert: join(pki.dir, 'controller.crt'), key: join(pki.dir, 'controller.key') } })).toBe('accepted');
    expect(refusal({ trustProxy: ['127.0.0.1', 'proxy.example'] })).toMatch(/^web\.customer\.trustProxy\[1\]: /);
  });

  it('serves HTTPS with its own certificate, and the CSRF cookie is Secure there', async () => {
    const store = await Store.open(join(work, 'tls.db'));
    const settings = customerWebSettings({ ...base, tls: { cert: join(pki.dir, 'controller.crt'), key: join(pki.dir, 'controller.key') } })!;
    const links = new CustomerLinks(store, { secret: randomBytes(32), publicUrl: settings.publicUrl, ttlDays: 30 });
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.1/32'], managementAddress: '10.255.0.1' });
    const service = new IncidentService({
      store,
      policy: DEFAULT_POLICY,
      clock: systemClock,
      log: silentLogger(),
      onHostChanged: () => undefined,
      onOutbox: () => undefined,
      onDeadlinesChanged: () => undefined,
      links,
    });
    const voice = new CustomerVoice({ store, service, policy: DEFAULT_POLICY, clock: systemClock });
    const web = await startCustomerWeb({ settings, links, voice, clock: systemClock, log: silentLogger() });
    try {
      const ca = pki.controller().ca;
      const get = (path: string) =>
        new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: web.port, path, ca, servername: 'localhost' }, (res) => {
            res.resume();
            resolve({ status: res.statusCode!, headers: res.headers });
          });
          req.on('error', reject);
          req.end();
        });
      expect((await get('/healthz')).status).toBe(200);
      const miss = await get(`/c/${'A'.repeat(43)}`);
      expect(miss.status).toBe(404);
      expect(miss.headers['referrer-policy']).toBe('no-referrer');
      // A page of a real incident sets the cookie with Secure.
      const opened = await service.submitComplaint(
        { ip: '203.0.113.1', category: 'spam', reporter: 'Mail Watch', reporterKind: 'individual', eventTime: undefined, evidence: 'spam', raw: 'spam report' },
        'olga',
      );
      const incident = (await store.incidents.get(opened.incidentId!))!;
      const token = links.url(await links.issue(incident, 'ops@acme.example', 'test', new Date())).split('/c/')[1]!;
      const page = await get(`/c/${token}`);
      expect(page.status).toBe(200);
      expect(String(page.headers['set-cookie'])).toMatch(/; Secure$/);
    } finally {
      await web.close();
      await store.close();
    }
  });

  it.skipIf(!existsSync(join(DIST, 'controller/main.js')))('--check-config of the built daemon names web.customer.listen for plain HTTP off loopback', () => {
    const config = join(work, 'controller.json');
    writeFileSync(
      config,
      JSON.stringify({
        listen: '127.0.0.1:0',
        tls: { ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, 'controller.crt'), key: join(pki.dir, 'controller.key'), revokedSerialsFile: pki.revokedFile },
        store: { path: join(work, 'cordon.db') },
        web: { customer: { listen: '0.0.0.0:8080', publicUrl: 'https://abuse.example.net' } },
      }),
    );
    const r = spawnSync(process.execPath, [join(DIST, 'controller/main.js'), '--config', config, '--check-config'], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/web\.customer\.listen: 0\.0\.0\.0:8080 is not a loopback address/);
  });
});
