import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { identityFromCertificate, normaliseSerial, roleAtLeast } from '../../proto/runtime/peerIdentity.js';

const cert = (san: string, serial = '00AB:CD'): PeerCertificate =>
  ({ subject: { CN: 'x' }, subjectaltname: san, serialNumber: serial, fingerprint256: 'FP' }) as unknown as PeerCertificate;

describe('identityFromCertificate', () => {
  it('reads an agent identity', () => {
    expect(identityFromCertificate(cert('URI:urn:cordon:host:web-01'))).toEqual({
      kind: 'agent',
      hostId: 'web-01',
      serial: 'abcd',
      fingerprint: 'FP',
    });
  });

  it('reads an operator and role', () => {
    expect(identityFromCertificate(cert('URI:urn:cordon:operator:olga, URI:urn:cordon:role:admin'))).toMatchObject({
      kind: 'operator',
      name: 'olga',
      role: 'admin',
    });
  });

  it.each([
    ['no Cordon URI', 'DNS:web-01'],
    ['two identities', 'URI:urn:cordon:host:a, URI:urn:cordon:host:b'],
    ['agent and operator at once', 'URI:urn:cordon:host:a, URI:urn:cordon:operator:o, URI:urn:cordon:role:admin'],
    ['operator without role', 'URI:urn:cordon:operator:o'],
    ['unknown role', 'URI:urn:cordon:operator:o, URI:urn:cordon:role:god'],
    ['malformed host id', 'URI:urn:cordon:host:Web 01'],
  ])('refuses %s', (_what, san) => {
    expect(() => identityFromCertificate(cert(san))).toThrow(expect.objectContaining({ kind: 'unauthenticated' }));
  });

  it('refuses a missing certificate', () => {
    expect(() => identityFromCertificate(undefined)).toThrow(/no client certificate/);
  });
});

describe('roles and serials', () => {
  it('orders roles', () => {
    expect(roleAtLeast('admin', 'viewer')).toBe(true);
    expect(roleAtLeast('viewer', 'technician')).toBe(false);
  });
  it('normalises serials from openssl and Node', () => {
    expect(normaliseSerial('00:0A:FF')).toBe('aff');
    expect(normaliseSerial('0AFF')).toBe('aff');
  });
});
