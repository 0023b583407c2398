import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { CordonError } from './CordonError.js';

export interface TlsFiles {
  /** The Cordon CA certificate (PEM) that peers must chain to. */
  ca: string;
  /** This side's certificate (PEM). */
  cert: string;
  /** This side's private key (PEM). */
  key: string;
}

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  certificate: X509Certificate;
}

/**
 * Reads and sanity-checks the PEM files, naming the config key of the one that
 * is missing or unreadable, so a bad path fails at start and not at the first
 * handshake. `keyPrefix` is the config path of the files (`tls`); `-` names
 * them as command-line flags instead (`--ca`).
 */
export function loadTlsMaterial(files: TlsFiles, keyPrefix = 'tls'): TlsMaterial {
  const fieldOf = (name: keyof TlsFiles) => (keyPrefix === '-' ? `--${name}` : `${keyPrefix}.${name}`);
  const read = (name: keyof TlsFiles): Buffer => {
    try {
      return readFileSync(files[name]);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new CordonError('invalid', `cannot read ${files[name] || '(empty path)'}: ${reason}`, {
        field: fieldOf(name),
        cause: err,
      });
    }
  };
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  let certificate: X509Certificate;
  try {
    new X509Certificate(ca);
  } catch (err) {
    throw new CordonError('invalid', `${files.ca} is not a PEM certificate`, { field: fieldOf('ca'), cause: err });
  }
  try {
    certificate = new X509Certificate(cert);
  } catch (err) {
    throw new CordonError('invalid', `${files.cert} is not a PEM certificate`, { field: fieldOf('cert'), cause: err });
  }
  if (!key.toString('utf8').includes('PRIVATE KEY-----')) {
    throw new CordonError('invalid', `${files.key} is not a PEM private key`, { field: fieldOf('key') });
  }
  return { ca, cert, key, certificate };
}
