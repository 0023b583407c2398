import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deskWebSettings, type DeskWebConfig } from '../../controller/web/desk/deskWebSettings.js';
import { TestPki } from '../helpers/pki.js';

/** `web.desk.*` at start and in `--check-config`: off by default, the controller's own certificate unless set, errors naming the key. */
describe('desk page settings', () => {
  let pki: TestPki;
  const base: DeskWebConfig = { listen: '127.0.0.1:0', tls: { cert: '', key: '' }, maxEventClients: 100 };
  const own = () => ({ ca: join(pki.dir, 'ca.crt'), cert: join(pki.dir, 'controller.crt'), key: join(pki.dir, 'controller.key') });
  const refusal = (over: Partial<DeskWebConfig>, controllerTls = own()) => {
    try {
      deskWebSettings({ ...base, ...over }, controllerTls);
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };

  beforeAll(() => {
    pki = new TestPki();
    pki.operator('olga', 'abuse_operator');
  });
  afterAll(() => pki?.cleanup());

  it("is off when listen is empty, and takes the controller's own certificate by default", () => {
    expect(deskWebSettings({ ...base, listen: '' }, own())).toBeUndefined();
    const s = deskWebSettings(base, own())!;
    expect(s.tls.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(s.tls.ca.toString()).toContain('BEGIN CERTIFICATE');
    expect(s.tls.certificate.subject).toBe(pki.controller().certificate.subject);
  });

  it('refuses a bad address, half a key pair, a missing file or a key of another certificate, naming the key', () => {
    expect(refusal({ listen: 'everywhere' })).toMatch(/^web\.desk\.listen: must be host:port/);
    expect(refusal({ tls: { cert: join(pki.dir, 'controller.crt'), key: '' } })).toMatch(/^web\.desk\.tls\.key: tls\.cert and tls\.key go together/);
    expect(refusal({ tls: { cert: join(pki.dir, 'nope.crt'), key: join(pki.dir, 'controller.key') } })).toMatch(/^web\.desk\.tls\.cert: cannot read .*nope\.crt: ENOENT/);
    expect(refusal({ tls: { cert: join(pki.dir, 'controller.crt'), key: join(pki.dir, 'operator-olga.key') } })).toMatch(/^web\.desk\.tls\./);
    expect(refusal({}, { ...own(), key: join(pki.dir, 'gone.key') })).toMatch(/^tls\.key: cannot read/);
  });
});
