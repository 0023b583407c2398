import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dkimSign } from 'mailauth';
import { startInNamespace, waitListening } from './processes.js';
import type { LabTopology } from './topology.js';

/**
 * The lab's mail world: a registered feedback-loop reporter (mailbox.example)
 * whose reports carry a real DKIM signature, and an attacker
 * (attacker.example) with keys of its own. Both publish their keys and
 * DMARC policies on a real DNS server (dnsmasq) inside the management
 * namespace, which the lab controller asks (intake.dnsServers). So the demo
 * shows trust coming from who signed a report: the reporter's signed report
 * is believed, the attacker's copy with the reporter's From is not.
 */
export const LAB_REPORTER = { id: 'mailbox-fbl', name: 'Mailbox.example feedback loop', kind: 'upstream', domain: 'mailbox.example', selector: 'lab2026' } as const;
export const LAB_ATTACKER = { domain: 'attacker.example', selector: 'sel1' } as const;
/** The lab DNS server, on the management namespace's loopback (only the controller asks it). */
export const LAB_DNS = { address: '127.0.0.1', port: 5353 } as const;

interface SigningKey {
  domain: string;
  selector: string;
  privateKey: string;
}

function makeKey(dir: string, domain: string, selector: string): { key: SigningKey; txt: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(join(dir, `${domain}.key`), pem, { mode: 0o600 });
  const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { key: { domain, selector, privateKey: pem }, txt: `v=DKIM1; k=rsa; p=${p}` };
}

/** Makes both domains' keys (in <lab>/dkim) and starts dnsmasq serving their DKIM keys and DMARC policies; returns its pid. */
export async function startLabDns(dir: string, t: LabTopology): Promise<number> {
  const dkimDir = join(dir, 'dkim');
  mkdirSync(dkimDir, { recursive: true, mode: 0o700 });
  const reporter = makeKey(dkimDir, LAB_REPORTER.domain, LAB_REPORTER.selector);
  const attacker = makeKey(dkimDir, LAB_ATTACKER.domain, LAB_ATTACKER.selector);
  const records: Record<string, string> = {
    [`${LAB_REPORTER.selector}._domainkey.${LAB_REPORTER.domain}`]: reporter.txt,
    [`_dmarc.${LAB_REPORTER.domain}`]: 'v=DMARC1; p=reject',
    [`${LAB_ATTACKER.selector}._domainkey.${LAB_ATTACKER.domain}`]: attacker.txt,
    [`_dmarc.${LAB_ATTACKER.domain}`]: 'v=DMARC1; p=none',
  };
  const args = [
    '--no-daemon',
    `--port=${LAB_DNS.port}`,
    `--listen-address=${LAB_DNS.address}`,
    '--bind-interfaces',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--pid-file=',
    '--log-facility=-',
    // dnsmasq splits a text over 255 bytes into 255-byte strings, as a 2048-bit DKIM key needs.
    ...Object.entries(records).map(([name, value]) => `--txt-record=${name},${value}`),
  ];
  const pid = startInNamespace(t.mgmtNs, 'dns', join(dir, 'logs'), dnsmasqBinary(), args);
  await waitListening(t.mgmtNs, 'udp', LAB_DNS.port, 'the lab DNS server', pid, 10_000, LAB_DNS.address);
  return pid;
}

/** Debian's dnsmasq-base puts it in /usr/sbin, which a non-login PATH may lack. */
function dnsmasqBinary(): string {
  return ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'].find((p) => existsSync(p)) ?? 'dnsmasq';
}

/**
 * Signs a report with DKIM as `who`: the registered reporter (a report the
 * controller believes) or the attacker (a forgery: the From still says
 * mailbox.example, the signature is attacker.example's, not aligned).
 */
export async function signLabReport(dir: string, raw: string, who: 'reporter' | 'attacker'): Promise<string> {
  const d = who === 'reporter' ? LAB_REPORTER : LAB_ATTACKER;
  const privateKey = readFileSync(join(dir, 'dkim', `${d.domain}.key`), 'utf8');
  // One signing time for both places mailauth writes t= (it otherwise reads the clock twice, and a second
  // boundary between them makes a signature that never verifies: about one in 300 signatures).
  const options = { signatureData: [{ signingDomain: d.domain, selector: d.selector, privateKey }], signTime: new Date() } as unknown as Parameters<typeof dkimSign>[1];
  const { signatures, errors } = await dkimSign(raw, options);
  if (errors.length > 0) throw new Error(`DKIM signing as ${d.domain} failed: ${JSON.stringify(errors)}`);
  return signatures + raw;
}
