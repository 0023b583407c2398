import type { X509Certificate } from 'node:crypto';
import { CordonError } from '../proto/runtime/CordonError.js';
import { sanUris } from '../proto/runtime/peerIdentity.js';

/**
 * Checks at start that the certificate is an agent certificate for `hostId`,
 * so a misdeployed key pair fails on the host with a clear message instead of
 * as a refusal on the controller.
 */
export function checkCertificateHostId(cert: X509Certificate, hostId: string): void {
  const hosts = sanUris(cert.subjectAltName)
    .filter((u) => u.startsWith('urn:cordon:host:'))
    .map((u) => u.slice('urn:cordon:host:'.length));
  if (hosts.length !== 1) {
    throw new CordonError('invalid', 'is not a Cordon agent certificate (no urn:cordon:host: SAN)', { field: 'tls.cert' });
  }
  if (hosts[0] !== hostId) {
    throw new CordonError('invalid', `is ${JSON.stringify(hostId)} but the certificate was issued to ${JSON.stringify(hosts[0])}`, {
      field: 'hostId',
    });
  }
  if (new Date(cert.validTo).getTime() < Date.now()) {
    throw new CordonError('invalid', `the certificate expired on ${cert.validTo}`, { field: 'tls.cert' });
  }
}
