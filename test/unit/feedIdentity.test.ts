import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RevocationList } from '../../controller/agents/RevocationList.js';
import { createAuthorize } from '../../controller/authorize.js';
import { AgentServiceService } from '../../proto/gen/cordon/v1/agent.js';
import { DeskServiceService } from '../../proto/gen/cordon/v1/desk.js';
import { identityFromCertificate, type PeerIdentity } from '../../proto/runtime/peerIdentity.js';

const cert = (san: string): PeerCertificate => ({ subject: { CN: 'x' }, subjectaltname: san, serialNumber: '0A', fingerprint256: 'FP' }) as unknown as PeerCertificate;

/** Every method the controller serves, as `Service/Method` (what authorize is called with). */
const methods = (service: Record<string, { path: string }>) => Object.values(service).map((m) => m.path.replace(/^\/cordon\.v1\./, ''));
const ALL = [...methods(DeskServiceService), ...methods(AgentServiceService)];

describe('feed certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-feed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const revokedFile = join(dir, 'revoked-serials');
  writeFileSync(revokedFile, '');
  const authorize = createAuthorize(new RevocationList(revokedFile));
  const feed: PeerIdentity = { kind: 'feed', name: 'shadow', serial: 'a', fingerprint: 'FP' };

  it('reads a feed identity from urn:cordon:feed:NAME', () => {
    expect(identityFromCertificate(cert('URI:urn:cordon:feed:shadow'))).toEqual({ kind: 'feed', name: 'shadow', serial: 'a', fingerprint: 'FP' });
  });

  it.each([
    ['a feed and an operator at once', 'URI:urn:cordon:feed:shadow, URI:urn:cordon:operator:o, URI:urn:cordon:role:admin'],
    ['a feed and an agent at once', 'URI:urn:cordon:feed:shadow, URI:urn:cordon:host:web-01'],
    ['two feeds', 'URI:urn:cordon:feed:a, URI:urn:cordon:feed:b'],
    ['a feed with a role', 'URI:urn:cordon:feed:shadow, URI:urn:cordon:role:admin'],
    ['a malformed feed name', 'URI:urn:cordon:feed:Shadow Feed'],
  ])('refuses %s', (_what, san) => {
    expect(() => identityFromCertificate(cert(san))).toThrow(expect.objectContaining({ kind: 'unauthenticated' }));
  });

  it('lets a feed call SubmitComplaint and nothing else of any service', () => {
    expect(ALL).toContain('DeskService/SubmitComplaint');
    expect(ALL.length).toBeGreaterThan(20);
    for (const method of ALL) {
      if (method === 'DeskService/SubmitComplaint') expect(() => authorize(feed, method)).not.toThrow();
      else expect(() => authorize(feed, method), method).toThrow(expect.objectContaining({ kind: 'permission', message: expect.stringContaining('not open to feed certificates') }));
    }
  });

  it('refuses a revoked feed certificate even for SubmitComplaint', () => {
    writeFileSync(revokedFile, 'a\n');
    const fresh = createAuthorize(new RevocationList(revokedFile));
    expect(() => fresh(feed, 'DeskService/SubmitComplaint')).toThrow(expect.objectContaining({ kind: 'permission' }));
  });
});
