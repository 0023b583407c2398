// The fleet benchmark's PKI: a CA, the controller and two operators made by
// the real script (deploy/pki/cordon-pki), and one agent certificate per
// simulated host, issued in bulk because the script takes ~130 ms per agent
// (5 openssl runs, a fresh key each): 10,000 agents would take ~20 minutes.
//
// The bulk path keeps what the controller checks identical to the script's
// output: the same subject (/O=Cordon/OU=agent/CN=ID), the same extensions
// (CA:FALSE, digitalSignature, clientAuth, SAN URI urn:cordon:host:ID,
// authority and subject key ids), a 128-bit random serial, 825 days, SHA-256,
// signed by the same CA. What differs: every agent shares one EC P-256 key
// (`openssl x509 -new -force_pubkey`, no CSR), which the controller neither
// sees nor cares about, and all but one certificate are that one re-signed
// in this process with another host id and serial.
//
// Certificates are cached in a folder (default $TMPDIR/cordon-fleet-pki) and
// issued incrementally: a run for N agents reuses hosts 0..k-1 already issued
// and adds the rest, so the 1,000 run is a prefix of the 10,000 one.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../deploy/pki/cordon-pki');

/** Host id of simulated agent `i` (matches cordon-pki's id rule). */
export const hostIdOf = (i) => `fleet-${String(i).padStart(5, '0')}`;

function script(dir, ...args) {
  return execFileSync(SCRIPT, ['--dir', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Makes (or reuses) a PKI under `root` with agent certificates for hosts
 * 0..agents-1. Returns the paths, and how long the issuing took.
 */
export async function fleetPki(root, agents, { log = () => {}, timeoutMs = 30 * 60_000 } = {}) {
  const pki = join(root, 'pki');
  const agentDir = join(root, 'agents');
  const manifest = join(root, 'agents.issued');
  const stats = { scriptMsPerAgent: undefined, issued: 0, issueMs: 0 };
  if (!existsSync(join(pki, 'ca.crt')) || !existsSync(join(pki, 'operator-fleet-approver.crt'))) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true, mode: 0o700 });
    script(pki, 'init');
    script(pki, 'issue-controller', 'localhost', '127.0.0.1');
    script(pki, 'issue-operator', 'fleet-requester', 'abuse_operator');
    script(pki, 'issue-operator', 'fleet-approver', 'abuse_operator');
    // How long the script itself takes per agent, to say why the bulk path exists.
    const t0 = performance.now();
    script(pki, 'issue-agent', 'fleet-script-probe');
    stats.scriptMsPerAgent = performance.now() - t0;
  }
  mkdirSync(agentDir, { recursive: true, mode: 0o700 });
  const key = join(agentDir, 'agent.key');
  const pub = join(agentDir, 'agent.pub');
  if (!existsSync(pub)) {
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], { stdio: 'ignore' });
    execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-out', pub], { stdio: 'ignore' });
    writeFileSync(manifest, '0\n');
  }
  const have = existsSync(manifest) ? Number(readFileSync(manifest, 'utf8').trim()) || 0 : 0;
  if (have < agents) {
    // The extensions of `cordon-pki issue-agent`, with the host id from the environment.
    const ext = join(agentDir, 'agent.ext');
    writeFileSync(
      ext,
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' +
        'subjectAltName=URI:urn:cordon:host:$ENV::CORDON_HOST\nauthorityKeyIdentifier=keyid\n',
    );
    log(`issuing ${agents - have} agent certificates into ${agentDir} ...`);
    const t0 = performance.now();
    // One certificate from openssl is the template; every other one is that
    // template with its host id and serial replaced, signed again by the CA
    // in this process (a process per certificate took 20 minutes for 10,000
    // on a loaded machine; this takes seconds). Host ids all have the same
    // length and serials are 16 bytes with the top bit clear and a first byte
    // other than zero (DER integers are minimal), so only the
    // signature's length changes (see resignedFromTemplate).
    const template = join(agentDir, 'template.crt');
    const templateId = hostIdOf(0);
    const serialHex = () => ((randomBytes(1)[0] & 0x7f) || 1).toString(16).padStart(2, '0') + randomBytes(15).toString('hex');
    execFileSync(
      'openssl',
      ['x509', '-new', '-force_pubkey', pub, '-subj', `/O=Cordon/OU=agent/CN=${templateId}`, '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'),
        '-set_serial', `0x${serialHex()}`, '-days', '825', '-sha256', '-extfile', ext, '-out', template],
      { env: { ...process.env, CORDON_HOST: templateId }, stdio: 'ignore' },
    );
    const caKey = createPrivateKey(readFileSync(join(pki, 'ca.key')));
    const templateDer = new X509Certificate(readFileSync(template)).raw;
    for (let i = have; i < agents; i++) {
      const der = resignedFromTemplate(templateDer, templateId, hostIdOf(i), Buffer.from(serialHex(), 'hex'), caKey);
      writeFileSync(join(agentDir, `${hostIdOf(i)}.crt`), `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`);
    }
    rmSync(template, { force: true });
    stats.issueMs = performance.now() - t0;
    stats.issued = agents - have;
    // Only now: an interrupted batch leaves the manifest short, and the next run re-issues.
    writeFileSync(manifest, `${agents}\n`);
    execFileSync('openssl', ['verify', '-CAfile', join(pki, 'ca.crt'), join(agentDir, `${hostIdOf(agents - 1)}.crt`)], { stdio: 'ignore' });
  }
  return {
    root,
    pkiDir: pki,
    ca: join(pki, 'ca.crt'),
    revokedFile: join(pki, 'revoked-serials'),
    controller: { ca: join(pki, 'ca.crt'), cert: join(pki, 'controller.crt'), key: join(pki, 'controller.key') },
    operator: (name) => ({ ca: join(pki, 'ca.crt'), cert: join(pki, `operator-${name}.crt`), key: join(pki, `operator-${name}.key`) }),
    agentKey: key,
    agentDir,
    stats,
  };
}

/** A DER length. */
function derLength(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** The header length and content length of the DER element at `at`. */
function derElement(buf, at) {
  const first = buf[at + 1];
  if (first < 0x80) return { header: 2, length: first };
  const n = first & 0x7f;
  let length = 0;
  for (let k = 0; k < n; k++) length = length * 256 + buf[at + 2 + k];
  return { header: 2 + n, length };
}

/**
 * `template` (a certificate: SEQUENCE { tbs, signatureAlgorithm, signature })
 * with every occurrence of `fromId` in its to-be-signed part replaced by
 * `toId` (same length: the CN and the SAN URI), its serial replaced by
 * `serial` (same length), signed again with `caKey` (ECDSA, SHA-256).
 */
function resignedFromTemplate(template, fromId, toId, serial, caKey) {
  const outer = derElement(template, 0);
  const tbsAt = outer.header;
  const tbsEl = derElement(template, tbsAt);
  const tbs = Buffer.from(template.subarray(tbsAt, tbsAt + tbsEl.header + tbsEl.length));
  const from = Buffer.from(fromId);
  for (let at = tbs.indexOf(from); at !== -1; at = tbs.indexOf(from, at + 1)) Buffer.from(toId).copy(tbs, at);
  // tbs: SEQUENCE { [0] version, INTEGER serial, ... }
  const versionAt = tbsEl.header;
  const versionEl = derElement(tbs, versionAt);
  const serialAt = versionAt + versionEl.header + versionEl.length;
  const serialEl = derElement(tbs, serialAt);
  if (serialEl.length !== serial.length) throw new Error(`template serial is ${serialEl.length} bytes, not ${serial.length}`);
  serial.copy(tbs, serialAt + serialEl.header);
  const algAt = tbsAt + tbsEl.header + tbsEl.length;
  const algEl = derElement(template, algAt);
  const alg = template.subarray(algAt, algAt + algEl.header + algEl.length);
  const signature = sign('sha256', tbs, caKey);
  const bits = Buffer.concat([Buffer.from([0x03]), derLength(signature.length + 1), Buffer.from([0]), signature]);
  const body = Buffer.concat([tbs, alg, bits]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}
