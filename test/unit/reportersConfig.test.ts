import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../../controller/config.js';
import { CordonError } from '../../proto/runtime/CordonError.js';

const dir = mkdtempSync(join(tmpdir(), 'cordon-reporters-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (content: unknown): string => {
  const path = join(dir, `c${n++}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
};
const load = (content: unknown) => loadControllerConfig({ file: file(content) });
function errorOf(fn: () => unknown): CordonError {
  try {
    fn();
  } catch (err) {
    return err as CordonError;
  }
  throw new Error('expected an error');
}

const CERT = { id: 'cert-example', name: 'Example CERT', kind: 'cert', domains: ['cert.example'] };

describe('controller config: reporters and intake.dnsServers', () => {
  it('defaults to no reporters and the system resolver', () => {
    const c = loadControllerConfig({});
    expect(c.get('reporters')).toEqual([]);
    expect(c.get('intake.dnsServers')).toEqual([]);
  });

  it('takes a list of reporters and DNS servers', () => {
    const c = load({
      reporters: [CERT, { id: 'lists', name: 'Lists', kind: 'upstream', domains: ['fwd.example'], arcForwarder: true }, { id: 'shadow', name: 'Shadow', kind: 'cert', domains: [], feed: 'shadow' }],
      intake: { dnsServers: ['127.0.0.1:5353', '[::1]:53', '192.0.2.53'] },
    });
    expect(c.get('reporters').map((r) => r.id)).toEqual(['cert-example', 'lists', 'shadow']);
    expect(c.get('intake.dnsServers')).toEqual(['127.0.0.1:5353', '[::1]:53', '192.0.2.53']);
  });

  it.each<[string, unknown, RegExp]>([
    ['a kind that is not one', [{ ...CERT, kind: 'friend' }], /reporters\[0\]\.kind: "friend" is not one of/],
    ['the anonymous kind', [{ ...CERT, kind: 'anonymous' }], /reporters\[0\]\.kind: anonymous is what an unregistered sender is/],
    ['a bad domain', [{ ...CERT, domains: ['cert example'] }], /reporters\[0\]\.domains\[0\]: "cert example" is not a DNS name/],
    ['neither domain nor feed', [{ ...CERT, domains: [] }], /reporters\[0\]\.domains: a reporter needs at least one domain or a feed/],
    ['a missing name', [{ id: 'x', kind: 'cert', domains: ['x.example'] }], /reporters\[0\]\.name: must be a non-empty string/],
    ['an unknown key', [{ ...CERT, trusted: true }], /reporters\[0\]\.trusted: unknown key/],
    ['the same domain twice', [CERT, { ...CERT, id: 'other' }], /reporters\[1\]\.domains\[0\]: cert\.example already belongs to reporter cert-example/],
    ['an object', { cert: CERT }, /reporters: takes no object/],
    ['not a list', 'cert-example', /reporters: .*must be a list of reporters/],
  ])('refuses %s, naming the key', (_what, reporters, message) => {
    const err = errorOf(() => load({ reporters }));
    expect(err.kind).toBe('invalid');
    expect(err.message).toMatch(message);
  });

  it.each([['localhost:53'], ['127.0.0.1:'], ['dns.example'], ['127.0.0.1:70000']])('refuses the DNS server %s, naming the key', (server) => {
    const err = errorOf(() => load({ intake: { dnsServers: ['127.0.0.1', server] } }));
    expect(err.kind).toBe('invalid');
    expect(err.message).toMatch(/intake\.dnsServers\[1\]: .* is not an IP address/);
  });
});
