import { describe, expect, it } from 'vitest';
import { decideTrust } from '../../../controller/intake/trust/decideTrust.js';
import type { DkimCheck, MailChecks } from '../../../controller/intake/trust/MailChecks.js';
import type { RegisteredReporter } from '../../../controller/intake/trust/RegisteredReporter.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';

const REGISTRY: RegisteredReporter[] = [
  { id: 'cert-example', name: 'Example CERT', kind: 'cert', domains: ['cert.example'], arcForwarder: false },
  { id: 'lists', name: 'Example Lists', kind: 'upstream', domains: ['fwd.example'], arcForwarder: true },
  { id: 'plain-relay', name: 'A relay', kind: 'individual', domains: ['relay.example'], arcForwarder: false },
  { id: 'rights-co', name: 'Rights Co', kind: 'rights_holder', domains: ['rights.example'], arcForwarder: false },
];
const trustedKinds = DEFAULT_POLICY.trustedReporterKinds;

const sig = (over: Partial<DkimCheck> = {}): DkimCheck => ({ domain: 'cert.example', selector: 's1', result: 'pass', aligned: true, unsignedBytes: 0, ...over });

/** A single-From mail from cert.example with one good aligned signature; override what a case is about. */
const mail = (over: Partial<MailChecks> = {}): MailChecks => ({
  fromHeaders: 1,
  fromDomains: ['cert.example'],
  fromOrgDomain: 'cert.example',
  dkim: [sig()],
  spf: { result: 'none', detail: 'no client IP' },
  dmarc: { result: 'pass', domain: 'cert.example', policy: 'reject' },
  arc: { result: 'none' },
  ...over,
});

const decide = (m: MailChecks, registry = REGISTRY) => decideTrust({ mail: m, registry, trustedKinds });
const methods = (a: { checks: { method: string }[] }) => a.checks.map((c) => c.method);

describe('decideTrust', () => {
  it('trusts an aligned, verified signature of a registered trusted reporter, with its kind from the registry', () => {
    const a = decide(mail());
    expect(a).toMatchObject({ trusted: true, via: 'dkim', reporterId: 'cert-example', reporterName: 'Example CERT', reporterKind: 'cert', domain: 'cert.example' });
    expect(methods(a)).toEqual(['header', 'dkim', 'spf', 'dmarc', 'arc', 'alignment', 'registry']);
  });

  it('matches the From domain through its organisational domain', () => {
    const a = decide(mail({ fromDomains: ['abuse.cert.example'], fromOrgDomain: 'cert.example' }));
    expect(a).toMatchObject({ trusted: true, reporterId: 'cert-example', domain: 'abuse.cert.example' });
  });

  it('authenticates a registered reporter of an untrusted kind without trusting it', () => {
    const a = decide(mail({ fromDomains: ['rights.example'], fromOrgDomain: 'rights.example', dkim: [sig({ domain: 'rights.example' })] }));
    expect(a).toMatchObject({ trusted: false, via: 'dkim', reporterId: 'rights-co', reporterKind: 'rights_holder' });
    expect(a.checks.at(-1)).toMatchObject({ method: 'registry', result: 'policy' });
  });

  it('follows the policy: a kind it stops trusting is no longer trusted', () => {
    expect(decideTrust({ mail: mail(), registry: REGISTRY, trustedKinds: ['own_monitoring'] })).toMatchObject({ trusted: false, reporterId: 'cert-example' });
  });

  it.each<[string, Partial<MailChecks>, RegExp, { method: string; result: string }]>([
    ['no signature', { dkim: [] }, /no DKIM signature/, { method: 'dkim', result: 'none' }],
    ['a body hash that fails', { dkim: [sig({ result: 'neutral', comment: 'body hash did not verify' })] }, /body hash did not verify/, { method: 'dkim', result: 'neutral' }],
    ['a signature over changed headers', { dkim: [sig({ result: 'fail', comment: 'bad signature' })] }, /signed headers changed after signing/, { method: 'dkim', result: 'fail' }],
    ['a signer not aligned with From', { dkim: [sig({ domain: 'attacker.example', aligned: false })] }, /d=attacker\.example verifies but is not aligned with the From domain cert\.example/, { method: 'alignment', result: 'fail' }],
    ['an unregistered signer', { fromDomains: ['unknown.example'], fromOrgDomain: 'unknown.example', dkim: [sig({ domain: 'unknown.example' })] }, /unknown\.example is not a registered reporter's domain/, { method: 'registry', result: 'fail' }],
    ['two From headers', { fromHeaders: 2, fromDomains: ['cert.example', 'cert.example'] }, /2 From headers: a second From is a replay trick/, { method: 'header', result: 'fail' }],
    ['no From header', { fromHeaders: 0, fromDomains: [] }, /no From header/, { method: 'header', result: 'fail' }],
    ['one From naming two authors', { fromDomains: ['cert.example', 'other.example'] }, /names 2 addresses/, { method: 'header', result: 'fail' }],
    ['l= with appended content', { dkim: [sig({ unsignedBytes: 42 })] }, /signs only part of the body \(l=\): 42 bytes/, { method: 'dkim', result: 'policy' }],
    ['a DNS failure fetching the key', { dkim: [sig({ result: 'temperror', comment: 'DNS failure: ETIMEOUT' })] }, /temperror \(DNS failure: ETIMEOUT\)/, { method: 'dkim', result: 'temperror' }],
  ])('refuses %s, naming the check', (_what, over, reason, failing) => {
    const a = decide(mail(over));
    expect(a).toMatchObject({ trusted: false, via: 'none' });
    expect(a.reporterId).toBeUndefined();
    expect(a.reason).toMatch(reason);
    expect(a.checks).toContainEqual(expect.objectContaining(failing));
  });

  it('uses a later good signature when the first is partial or unaligned', () => {
    const a = decide(mail({ dkim: [sig({ domain: 'esp.example', aligned: false }), sig({ unsignedBytes: 3 }), sig({ selector: 's2' })] }));
    expect(a).toMatchObject({ trusted: true, via: 'dkim' });
  });

  it('never lets the registry of the signer stand in for the From domain', () => {
    // A registered reporter signs (d=cert.example) a mail whose From is someone else's.
    const a = decide(mail({ fromDomains: ['victim.example'], fromOrgDomain: 'victim.example', dkim: [sig({ aligned: false })] }));
    expect(a).toMatchObject({ trusted: false });
    expect(a.reason).toMatch(/not aligned/);
  });

  describe('ARC', () => {
    const broken = { dkim: [sig({ result: 'neutral', comment: 'body hash did not verify' })], dmarc: { result: 'fail', domain: 'cert.example' } };
    const arc = (over: Partial<MailChecks['arc']> = {}): Partial<MailChecks> => ({ ...broken, arc: { result: 'pass', sealer: 'fwd.example', instance: 1, dmarc: 'pass', dmarcFrom: 'cert.example', ...over } });

    it('trusts through the seal of a registered forwarder that recorded dmarc=pass for this From', () => {
      const a = decide(mail(arc()));
      expect(a).toMatchObject({ trusted: true, via: 'arc', reporterId: 'cert-example', reporterKind: 'cert', domain: 'cert.example' });
      expect(a.checks).toContainEqual(expect.objectContaining({ method: 'registry', result: 'pass', domain: 'fwd.example' }));
    });

    it.each<[string, Partial<MailChecks>, RegExp]>([
      ['a chain that does not validate', arc({ result: 'fail', detail: 'i=1 seal signature validation failed' }), /ARC: the chain does not validate \(fail: i=1 seal/],
      ['an unregistered sealer', arc({ sealer: 'rogue.example' }), /ARC: sealer rogue\.example is not a registered ARC forwarder/],
      ['a registered reporter that is not a forwarder', arc({ sealer: 'relay.example' }), /sealer relay\.example is not a registered ARC forwarder/],
      ['a hop that recorded dmarc=fail', arc({ dmarc: 'fail' }), /recorded dmarc=fail, not pass/],
      ['a pass recorded for another From', arc({ dmarcFrom: 'other.example' }), /dmarc=pass for other\.example, not for From cert\.example/],
      ['an unregistered From', { ...arc({ dmarcFrom: 'unknown.example' }), fromDomains: ['unknown.example'], fromOrgDomain: 'unknown.example' }, /ARC: unknown\.example is not a registered reporter's domain/],
    ])('refuses %s', (_what, over, reason) => {
      const a = decide(mail(over));
      expect(a).toMatchObject({ trusted: false, via: 'none' });
      expect(a.reason).toMatch(/^DKIM d=cert\.example: body hash did not verify/);
      expect(a.reason).toMatch(reason);
    });

    it('prefers a good DKIM signature to the seal', () => {
      expect(decide(mail({ arc: arc().arc! }))).toMatchObject({ trusted: true, via: 'dkim' });
    });
  });

  it('records SPF as given (none without a client IP) and DMARC as not evaluated without a single From', () => {
    const a = decide(mail({ fromHeaders: 2, dmarc: undefined }));
    expect(a.checks).toContainEqual({ method: 'spf', result: 'none', detail: 'no client IP', domain: undefined });
    expect(a.checks).toContainEqual(expect.objectContaining({ method: 'dmarc', result: 'none', detail: expect.stringContaining('not evaluated') }));
  });
});
