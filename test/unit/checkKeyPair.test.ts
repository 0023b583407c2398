import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkKeyPair } from '../../proto/runtime/checkKeyPair.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { TestPki } from '../helpers/pki.js';

const pki = new TestPki();
afterAll(() => pki.cleanup());

describe('checkKeyPair', () => {
  it('accepts a certificate with its own key', () => {
    expect(() => checkKeyPair(pki.controller(), { cert: 'controller.crt', key: 'controller.key' })).not.toThrow();
  });

  it("refuses another certificate's key, naming the key setting", () => {
    const agent = pki.agent('web-01');
    const mixed = { ...pki.controller(), key: agent.key };
    let err: unknown;
    try {
      checkKeyPair(mixed, { cert: join(pki.dir, 'controller.crt'), key: join(pki.dir, 'agent-web-01.key') });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CordonError);
    expect(err).toMatchObject({ kind: 'invalid', field: 'tls.key' });
    expect((err as Error).message).toMatch(/^tls\.key: .*agent-web-01\.key is not the private key of the certificate .*controller\.crt/);
  });

  it('refuses a key that cannot be parsed', () => {
    const broken = { ...pki.controller(), key: Buffer.from('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n') };
    expect(() => checkKeyPair(broken, { cert: 'c', key: 'k' })).toThrow(/^tls\.key: k is not a usable private key/);
  });
});
