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
// (`openssl x509 -new -force_pubkey`, one openssl run per certificate, no CSR),
// which the controller neither sees nor cares about.
//
// Certificates are cached in a folder (default $TMPDIR/cordon-fleet-pki) and
// issued incrementally: a run for N agents reuses hosts 0..k-1 already issued
// and adds the rest, so the 1,000 run is a prefix of the 10,000 one.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../deploy/pki/cordon-pki');

/** Host id of simulated agent `i` (matches cordon-pki's id rule). */
export const hostIdOf = (i) => `fleet-${String(i).padStart(5, '0')}`;

function script(dir, ...args) {
  return execFileSync(SCRIPT, ['--dir', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `bash -c body` and rejects on a non-zero exit or after `timeoutMs` (killing it). */
function bash(body, env, timeoutMs) {
  return new Promise((resolveRun, reject) => {
    const child = spawn('bash', ['-c', body], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolveRun();
      else reject(new Error(`certificate batch failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
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
    const missing = [];
    for (let i = have; i < agents; i++) missing.push(`${hostIdOf(i)} ${randomBytes(16).toString('hex')}`);
    const lanes = Math.max(1, Math.min(availableParallelism(), 8));
    log(`issuing ${missing.length} agent certificates (openssl, ${lanes} in parallel) into ${agentDir} ...`);
    const t0 = performance.now();
    const body = `set -euo pipefail
while read -r id serial; do
  CORDON_HOST="$id" openssl x509 -new -force_pubkey "$PUB" -subj "/O=Cordon/OU=agent/CN=$id" \\
    -CA "$CA" -CAkey "$CAKEY" -set_serial "0x$serial" -days 825 -sha256 -extfile "$EXT" -out "$OUT/$id.crt" 2>/dev/null
done < "$LIST"`;
    await Promise.all(
      Array.from({ length: lanes }, (_, lane) => {
        const list = join(agentDir, `batch-${lane}.txt`);
        writeFileSync(list, missing.filter((_, i) => i % lanes === lane).join('\n') + '\n');
        return bash(body, { PUB: pub, CA: join(pki, 'ca.crt'), CAKEY: join(pki, 'ca.key'), EXT: ext, OUT: agentDir, LIST: list }, timeoutMs).finally(() =>
          rmSync(list, { force: true }),
        );
      }),
    );
    stats.issueMs = performance.now() - t0;
    stats.issued = missing.length;
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
