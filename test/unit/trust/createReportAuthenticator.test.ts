import { describe, expect, it } from 'vitest';
import { createReportAuthenticator } from '../../../controller/intake/trust/createReportAuthenticator.js';
import type { RegisteredReporter } from '../../../controller/intake/trust/RegisteredReporter.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { silentLogger } from '../../../proto/runtime/logger.js';

const REGISTRY: RegisteredReporter[] = [
  { id: 'shadow', name: 'Shadow feed', kind: 'cert', domains: [], arcForwarder: false, feed: 'shadow-feed' },
  { id: 'rights-co', name: 'Rights Co', kind: 'rights_holder', domains: ['rights.example'], arcForwarder: false, feed: 'rights-feed' },
];

/** No DNS in unit tests: every lookup is "no such name". */
const noDns = async (): Promise<never> => {
  throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
};

function setup(list: () => Promise<RegisteredReporter[]> = async () => REGISTRY) {
  let reads = 0;
  let clock = 0;
  const authenticate = createReportAuthenticator({
    listReporters: () => {
      reads++;
      return list();
    },
    trustedKinds: DEFAULT_POLICY.trustedReporterKinds,
    resolver: noDns,
    cacheMs: 1_000,
    now: () => clock,
    log: silentLogger(),
  });
  return { authenticate, reads: () => reads, advance: (ms: number) => (clock += ms) };
}

const CSV = Buffer.from('ip,timestamp\n203.0.113.10,2026-11-02T08:00:00Z\n');

describe('createReportAuthenticator', () => {
  it('trusts a feed as the registered reporter with that feed, without mail checks', async () => {
    const { authenticate } = setup();
    const a = await authenticate(CSV, { kind: 'feed', feed: 'shadow-feed', actor: 'shadow-feed' });
    expect(a).toMatchObject({ trusted: true, via: 'feed', reporterId: 'shadow', reporterKind: 'cert' });
    expect(a.checks.map((c) => c.method)).toEqual(['channel', 'registry']);
  });

  it('authenticates a rights holder\'s feed without trusting it, and refuses an unregistered feed', async () => {
    const { authenticate } = setup();
    expect(await authenticate(CSV, { kind: 'feed', feed: 'rights-feed', actor: 'rights-feed' })).toMatchObject({ trusted: false, via: 'feed', reporterId: 'rights-co' });
    const unknown = await authenticate(CSV, { kind: 'feed', feed: 'nobody', actor: 'nobody' });
    expect(unknown).toMatchObject({ trusted: false, via: 'none', reason: "feed nobody is not a registered reporter's feed" });
  });

  it('lets a relay vouch for nothing: a bare file is not a mail, an unsigned mail is untrusted', async () => {
    const { authenticate } = setup();
    const file = await authenticate(CSV, { kind: 'relay', actor: 'olga' });
    expect(file).toMatchObject({ trusted: false, via: 'none', reason: 'not a mail: nothing to authenticate' });
    expect(file.checks[0]).toMatchObject({ method: 'channel', result: 'none', detail: expect.stringContaining('relayed by olga') });
    const mail = Buffer.from('From: x@rights.example\r\nTo: abuse@hoster.example\r\nSubject: notice\r\n\r\nbody\r\n');
    expect(await authenticate(mail, { kind: 'relay', actor: 'maildir' })).toMatchObject({ trusted: false, reason: 'the message carries no DKIM signature' });
  });

  it('reads the registry at most once per cache period, and again after invalidate()', async () => {
    const { authenticate, reads, advance } = setup();
    const feed = { kind: 'feed', feed: 'shadow-feed', actor: 'f' } as const;
    await authenticate(CSV, feed);
    await authenticate(CSV, feed);
    expect(reads()).toBe(1);
    advance(1_000);
    await authenticate(CSV, feed);
    expect(reads()).toBe(2);
    authenticate.invalidate();
    await authenticate(CSV, feed);
    expect(reads()).toBe(3);
  });

  it('sees a reporter removed from the registry once invalidated', async () => {
    let list = REGISTRY;
    const { authenticate } = setup(async () => list);
    const feed = { kind: 'feed', feed: 'shadow-feed', actor: 'f' } as const;
    expect(await authenticate(CSV, feed)).toMatchObject({ trusted: true });
    list = [];
    authenticate.invalidate();
    expect(await authenticate(CSV, feed)).toMatchObject({ trusted: false });
  });

  it('throws the store\'s error when the registry cannot be read, and does not cache the failure', async () => {
    let fail = true;
    const { authenticate } = setup(async () => {
      if (fail) throw new CordonError('transient', 'database is locked');
      return REGISTRY;
    });
    const feed = { kind: 'feed', feed: 'shadow-feed', actor: 'f' } as const;
    await expect(authenticate(CSV, feed)).rejects.toMatchObject({ kind: 'transient' });
    fail = false;
    expect(await authenticate(CSV, feed)).toMatchObject({ trusted: true });
  });
});
