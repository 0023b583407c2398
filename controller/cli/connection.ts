import { join } from 'node:path';
import { parseAddress } from '../../proto/runtime/address.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { loadTlsMaterial, type TlsMaterial } from '../../proto/runtime/tls.js';

export interface ConnectionFlags {
  controller?: string | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  pki?: string | undefined;
  operator?: string | undefined;
  'server-name'?: string | undefined;
}

export interface Connection {
  address: string;
  serverName: string | undefined;
  tls: TlsMaterial;
}

/**
 * Where cordonctl connects and with which operator certificate. Flags win over
 * the environment. `--pki DIR --operator NAME` is shorthand for the files the
 * PKI script writes: DIR/ca.crt, DIR/operator-NAME.crt and .key.
 */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv): Connection {
  const address = flags.controller ?? env.CORDON_CONTROLLER ?? '127.0.0.1:7443';
  try {
    parseAddress(address);
  } catch (err) {
    throw new CordonError('invalid', (err as Error).message, { field: '--controller' });
  }
  const pki = flags.pki ?? env.CORDON_PKI_DIR;
  const operator = flags.operator ?? env.CORDON_OPERATOR;
  const fromPki = (file: string) => (pki ? join(pki, file) : undefined);
  const ca = flags.ca ?? env.CORDON_CA ?? fromPki('ca.crt');
  const cert = flags.cert ?? env.CORDON_CERT ?? (operator ? fromPki(`operator-${operator}.crt`) : undefined);
  const key = flags.key ?? env.CORDON_KEY ?? (operator ? fromPki(`operator-${operator}.key`) : undefined);
  if (!ca || !cert || !key) {
    throw new CordonError(
      'invalid',
      'an operator certificate is needed: --pki DIR --operator NAME, or --ca/--cert/--key (or CORDON_PKI_DIR and CORDON_OPERATOR)',
      { field: !ca ? '--ca' : !cert ? '--cert' : '--key' },
    );
  }
  const tls = loadTlsMaterial({ ca, cert, key }, '-');
  return { address, serverName: flags['server-name'] ?? env.CORDON_SERVER_NAME, tls };
}
