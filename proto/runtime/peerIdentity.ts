import type { PeerCertificate } from 'node:tls';
import { CordonError } from './CordonError.js';

/**
 * Who is on the other end of a mutual-TLS connection, as stated by the
 * certificate the Cordon CA issued. The PKI scripts (deploy/pki) write these
 * URIs into the subjectAltName:
 *   agents:    urn:cordon:host:<host id>
 *   operators: urn:cordon:operator:<name> and urn:cordon:role:<role>
 *   feeds:     urn:cordon:feed:<name> (a reporter's API credential; it may only submit complaints)
 */
export type PeerIdentity =
  | { kind: 'agent'; hostId: string; serial: string; fingerprint: string }
  | { kind: 'operator'; name: string; role: OperatorRole; serial: string; fingerprint: string }
  | { kind: 'feed'; name: string; serial: string; fingerprint: string };

export const OPERATOR_ROLES = ['viewer', 'technician', 'abuse_operator', 'admin'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** Same rule as deploy/pki: a DNS label-like id, so it is safe in SANs, file names and logs. */
export const HOST_ID_PATTERN = /^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$/;

export function sanUris(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  // Node renders SANs as "DNS:a, URI:b"; our URIs never contain ", ".
  return subjectAltName
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice('URI:'.length));
}

/** Normalises a certificate serial to lower-case hex without leading zeros. */
export function normaliseSerial(serial: string): string {
  const hex = serial.replace(/[^0-9a-fA-F]/g, '').toLowerCase().replace(/^0+(?=.)/, '');
  return hex;
}

/**
 * Reads the identity from a verified peer certificate. Throws
 * `unauthenticated` when the certificate names no Cordon identity, or
 * names more than one.
 */
export function identityFromCertificate(cert: PeerCertificate | undefined): PeerIdentity {
  if (!cert || !cert.subject) {
    throw new CordonError('unauthenticated', 'no client certificate was presented');
  }
  const uris = sanUris(cert.subjectaltname);
  const serial = normaliseSerial(cert.serialNumber ?? '');
  const fingerprint = cert.fingerprint256 ?? '';
  const hosts = uris.filter((u) => u.startsWith('urn:cordon:host:')).map((u) => u.slice('urn:cordon:host:'.length));
  const operators = uris
    .filter((u) => u.startsWith('urn:cordon:operator:'))
    .map((u) => u.slice('urn:cordon:operator:'.length));
  const roles = uris.filter((u) => u.startsWith('urn:cordon:role:')).map((u) => u.slice('urn:cordon:role:'.length));
  const feeds = uris.filter((u) => u.startsWith('urn:cordon:feed:')).map((u) => u.slice('urn:cordon:feed:'.length));

  if (hosts.length + operators.length + feeds.length !== 1) {
    throw new CordonError(
      'unauthenticated',
      'the client certificate must name exactly one Cordon identity (urn:cordon:host:…, urn:cordon:operator:… or urn:cordon:feed:…)',
    );
  }
  if (feeds.length === 1) {
    const name = feeds[0]!;
    if (!HOST_ID_PATTERN.test(name)) throw new CordonError('unauthenticated', `the certificate's feed name ${JSON.stringify(name)} is malformed`);
    // A role would suggest the feed may act as an operator: it may not, and a certificate saying otherwise is refused.
    if (roles.length > 0) throw new CordonError('unauthenticated', `feed certificate for ${name} must not name a role`);
    return { kind: 'feed', name, serial, fingerprint };
  }
  if (hosts.length === 1) {
    const hostId = hosts[0]!;
    if (!HOST_ID_PATTERN.test(hostId)) {
      throw new CordonError('unauthenticated', `the certificate's host id ${JSON.stringify(hostId)} is malformed`);
    }
    return { kind: 'agent', hostId, serial, fingerprint };
  }
  const name = operators[0]!;
  if (roles.length !== 1 || !(OPERATOR_ROLES as readonly string[]).includes(roles[0]!)) {
    throw new CordonError(
      'unauthenticated',
      `operator certificate for ${name} must name exactly one role (${OPERATOR_ROLES.join(', ')})`,
    );
  }
  return { kind: 'operator', name, role: roles[0] as OperatorRole, serial, fingerprint };
}

const ROLE_RANK: Record<OperatorRole, number> = { viewer: 0, technician: 1, abuse_operator: 2, admin: 3 };

/** Roles are ordered: each includes what the ones below it may do. */
export function roleAtLeast(role: OperatorRole, needed: OperatorRole): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}
