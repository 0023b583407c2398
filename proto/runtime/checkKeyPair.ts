import { createPrivateKey, type KeyObject } from 'node:crypto';
import { CordonError } from './CordonError.js';
import type { TlsFiles, TlsMaterial } from './tls.js';

/**
 * Checks that the private key is usable and belongs to the certificate, so
 * a mismatched pair fails at start and in `--check-config`, naming
 * `<keyPrefix>.key`, instead of as a handshake error on every connection.
 * Throws a CordonError of kind `invalid`; returns nothing when the pair fits.
 */
export function checkKeyPair(material: TlsMaterial, files: Pick<TlsFiles, 'cert' | 'key'>, keyPrefix = 'tls'): void {
  let key: KeyObject;
  try {
    key = createPrivateKey(material.key);
  } catch (err) {
    throw new CordonError('invalid', `${files.key} is not a usable private key: ${(err as Error).message}`, {
      field: `${keyPrefix}.key`,
      cause: err,
    });
  }
  if (!material.certificate.checkPrivateKey(key)) {
    throw new CordonError('invalid', `${files.key} is not the private key of the certificate ${files.cert} (${keyPrefix}.cert)`, {
      field: `${keyPrefix}.key`,
    });
  }
}
