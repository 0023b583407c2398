import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';

const SCRIPT = join(REPO_ROOT, 'deploy/pki/cordon-pki');
const PASS = 'correct horse battery staple';

/** Runs cordon-pki with only the environment given (never the caller's CORDON_P12_PASSPHRASE). */
function pkiCmd(pki: TestPki, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(SCRIPT, ['--dir', pki.dir, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** openssl with the passphrase passed in the environment, like the script does. */
function openssl(args: string[], pass: string) {
  const r = spawnSync('openssl', [...args, '-passin', 'env:P12IN'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', P12IN: pass } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const pemBlocks = (text: string, label: string) => text.match(new RegExp(`-----BEGIN ${label}-----[^-]+-----END ${label}-----`, 'g')) ?? [];
const fingerprint = (pem: string) => spawnSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: pem, encoding: 'utf8' }).stdout.trim();
const publicKeyOfKey = (pem: string) => spawnSync('openssl', ['pkey', '-pubout'], { input: pem, encoding: 'utf8' }).stdout;
const publicKeyOfCert = (pem: string) => spawnSync('openssl', ['x509', '-noout', '-pubkey'], { input: pem, encoding: 'utf8' }).stdout;

describe('cordon-pki export-p12', () => {
  let pki: TestPki;

  beforeAll(() => {
    pki = new TestPki();
    pki.operator('olga', 'abuse_operator');
    pki.operator('ivan', 'viewer');
    pki.agent('web-01');
    pki.run('issue-feed', 'spamhaus');
  });
  afterAll(() => pki?.cleanup());

  it('packs exactly the operator certificate, its key and the CA, under modern encryption, mode 0600', () => {
    const out = join(pki.root, 'olga.p12');
    const r = pkiCmd(pki, ['export-p12', 'olga', '--out', out], { CORDON_P12_PASSPHRASE: PASS });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('operator olga, role abuse_operator');
    expect(statSync(out).mode & 0o777).toBe(0o600);

    const info = openssl(['pkcs12', '-info', '-in', out, '-noout'], PASS);
    expect(info.status).toBe(0);
    // Not -legacy: no RC2 or 3DES, which current OpenSSL and browsers refuse or deprecate.
    expect(info.stderr).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
    expect(info.stderr).toMatch(/PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC/);
    expect(info.stderr).toMatch(/MAC: sha256/);
    expect(info.stderr).not.toMatch(/RC2|3DES|pbeWithSHA1/i);

    const all = openssl(['pkcs12', '-in', out, '-nodes'], PASS);
    expect(all.status).toBe(0);
    const certs = pemBlocks(all.stdout, 'CERTIFICATE');
    const keys = pemBlocks(all.stdout, 'PRIVATE KEY');
    expect(certs).toHaveLength(2);
    expect(keys).toHaveLength(1);
    const leaf = pemBlocks(openssl(['pkcs12', '-in', out, '-clcerts', '-nokeys'], PASS).stdout, 'CERTIFICATE');
    const ca = pemBlocks(openssl(['pkcs12', '-in', out, '-cacerts', '-nokeys'], PASS).stdout, 'CERTIFICATE');
    expect(leaf.map(fingerprint)).toEqual([fingerprint(readFileSync(join(pki.dir, 'operator-olga.crt'), 'utf8'))]);
    expect(ca.map(fingerprint)).toEqual([fingerprint(readFileSync(join(pki.dir, 'ca.crt'), 'utf8'))]);
    // The key in the file is the one the certificate certifies.
    expect(publicKeyOfKey(keys[0]!)).toBe(publicKeyOfCert(leaf[0]!));
    expect(publicKeyOfKey(keys[0]!)).toContain('BEGIN PUBLIC KEY');
  });

  it('does not open with a wrong passphrase', () => {
    const out = join(pki.root, 'olga-wrong.p12');
    expect(pkiCmd(pki, ['export-p12', 'olga', '--out', out], { CORDON_P12_PASSPHRASE: PASS }).status).toBe(0);
    const r = openssl(['pkcs12', '-info', '-in', out, '-noout'], 'correct horse battery stapler');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/mac verify failure|invalid password/i);
  });

  it('generates a passphrase when none is given, prints it once on stderr and stores it nowhere', () => {
    const r = pkiCmd(pki, ['export-p12', 'ivan']);
    expect(r.status).toBe(0);
    const out = join(pki.dir, 'operator-ivan.p12');
    expect(r.stdout.trim().split('\n')).toEqual([`${out} (operator ivan, role viewer, serial ${pki.run('serial', join(pki.dir, 'operator-ivan.crt')).trim()})`]);
    const m = /passphrase for (\S+) \(shown once, stored nowhere; import with it\): (\S+)/.exec(r.stderr);
    expect(m?.[1]).toBe(out);
    const pass = m![2]!;
    expect(pass.length).toBeGreaterThanOrEqual(24);
    expect(r.stderr.split(pass)).toHaveLength(2); // once
    expect(r.stdout).not.toContain(pass);
    expect(openssl(['pkcs12', '-info', '-in', out, '-noout'], pass).status).toBe(0);
    // Not next to the file, nor anywhere else in the PKI folder; no temporary left behind.
    for (const f of readdirSync(pki.dir)) expect(readFileSync(join(pki.dir, f)).includes(pass), f).toBe(false);
    expect(readdirSync(pki.dir).filter((f) => f.startsWith('.'))).toEqual([]);
    // Two exports never share a passphrase.
    const again = pkiCmd(pki, ['export-p12', 'ivan', '--out', join(pki.root, 'ivan2.p12')]);
    expect(again.status).toBe(0);
    expect(again.stderr).not.toContain(pass);
  });

  it('refuses to overwrite an existing file, and leaves it as it was', () => {
    const out = join(pki.root, 'olga-once.p12');
    expect(pkiCmd(pki, ['export-p12', 'olga', '--out', out], { CORDON_P12_PASSPHRASE: PASS }).status).toBe(0);
    const before = readFileSync(out);
    const r = pkiCmd(pki, ['export-p12', 'olga', '--out', out], { CORDON_P12_PASSPHRASE: 'another long passphrase' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${out} exists already; refusing to overwrite it`);
    expect(readFileSync(out).equals(before)).toBe(true);
    expect(openssl(['pkcs12', '-info', '-in', out, '-noout'], PASS).status).toBe(0);
  });

  it.each([
    ['web-01', /'web-01' is not an operator: .*agent-web-01\.crt is an agent's certificate; only operator certificates go into a browser/],
    ['agent-web-01', /'agent-web-01' is not an operator: .*agent-web-01\.crt is an agent's certificate/],
    ['spamhaus', /'spamhaus' is not an operator: .*feed-spamhaus\.crt is a feed's certificate/],
    ['controller', /'controller' is the controller's server certificate, not an operator's/],
    ['nobody', /no operator certificate .*operator-nobody\.crt \(issue it first/],
    ['operator-olga', /give the operator's name, not the file's: export-p12 olga/],
    ['../ca', /operator name '\.\.\/ca' must match/],
  ])('refuses %s, naming what was wrong, and writes nothing', (name, message) => {
    const out = join(pki.root, `refused-${name.replace(/\W/g, '_')}.p12`);
    const r = pkiCmd(pki, ['export-p12', name, '--out', out], { CORDON_P12_PASSPHRASE: PASS });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a certificate that only carries an operator file name, a revoked one, and a short passphrase', () => {
    // An agent's certificate renamed into an operator's place: the name in the file is not proof.
    copyFileSync(join(pki.dir, 'agent-web-01.crt'), join(pki.dir, 'operator-mallory.crt'));
    copyFileSync(join(pki.dir, 'agent-web-01.key'), join(pki.dir, 'operator-mallory.key'));
    const forged = pkiCmd(pki, ['export-p12', 'mallory', '--out', join(pki.root, 'mallory.p12')], { CORDON_P12_PASSPHRASE: PASS });
    expect(forged.status).toBe(1);
    expect(forged.stderr).toContain('does not name operator mallory in its subjectAltName');

    pki.operator('gone', 'admin');
    pki.run('revoke', join(pki.dir, 'operator-gone.crt'));
    const revoked = pkiCmd(pki, ['export-p12', 'gone', '--out', join(pki.root, 'gone.p12')], { CORDON_P12_PASSPHRASE: PASS });
    expect(revoked.status).toBe(1);
    expect(revoked.stderr).toMatch(/operator-gone\.crt \(serial [0-9a-f]+\) is revoked/);

    const short = pkiCmd(pki, ['export-p12', 'olga', '--out', join(pki.root, 'short.p12')], { CORDON_P12_PASSPHRASE: 'hunter2' });
    expect(short.status).toBe(1);
    expect(short.stderr).toContain('CORDON_P12_PASSPHRASE must be at least 12 characters');
    expect(existsSync(join(pki.root, 'short.p12'))).toBe(false);
  });

  it('serves Node as a client certificate: tls.connect({ pfx, passphrase }) to a server that requires one from the CA', async () => {
    const out = join(pki.root, 'olga-node.p12');
    expect(pkiCmd(pki, ['export-p12', 'olga', '--out', out], { CORDON_P12_PASSPHRASE: PASS }).status).toBe(0);
    const ctl = pki.controller();
    const seen: string[] = [];
    const server = createServer({ cert: ctl.cert, key: ctl.key, ca: ctl.ca, requestCert: true, rejectUnauthorized: true }, (s: TLSSocket) => {
      const peer = s.getPeerCertificate();
      seen.push(`${peer.subject.CN} ${peer.subjectaltname}`);
      s.end('hello operator\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const dial = (opts: { pfx?: Buffer; passphrase?: string }) =>
      new Promise<string>((resolve, reject) => {
        const sock = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ctl.ca, ...opts }, () => {
          let data = '';
          sock.on('data', (c: Buffer) => (data += c.toString()));
          sock.on('end', () => resolve(data));
        });
        sock.on('error', reject);
      });
    try {
      expect(await dial({ pfx: readFileSync(out), passphrase: PASS })).toBe('hello operator\n');
      expect(seen).toEqual(['olga URI:urn:cordon:operator:olga, URI:urn:cordon:role:abuse_operator']);
      // Without the certificate the server refuses the handshake.
      await expect(dial({})).rejects.toThrow();
      expect(() => connect({ host: '127.0.0.1', port, pfx: readFileSync(out), passphrase: 'not the passphrase' })).toThrow(/mac verify failure|bad decrypt/i);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
