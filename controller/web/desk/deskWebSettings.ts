import { CordonError } from '../../../proto/runtime/CordonError.js';
import { checkKeyPair } from '../../../proto/runtime/checkKeyPair.js';
import { parseAddress } from '../../../proto/runtime/address.js';
import { loadTlsMaterial, type TlsFiles, type TlsMaterial } from '../../../proto/runtime/tls.js';

/** `web.desk.*` as the desk's server needs it, checked and with its files read. */
export interface DeskWebSettings {
  /** host:port; port 0 picks a free one (tests). */
  listen: string;
  /** The listener's certificate and key, and the Cordon CA that client certificates must chain to. */
  tls: TlsMaterial;
  /** Open live-update streams (GET /events) at most; more get 503 and the page still works by reloading. */
  maxEventClients: number;
}

/** The config keys, as config.ts holds them. */
export interface DeskWebConfig {
  listen: string;
  tls: { cert: string; key: string };
  maxEventClients: number;
}

/**
 * Checks `web.desk.*` and reads its certificate, or returns undefined when
 * the desk is off (listen empty). The certificate and key default to the
 * controller's own (`tls.cert`, `tls.key`); the CA is always the Cordon CA
 * (`tls.ca`), since operators' certificates are what admits a browser.
 * Throws an `invalid` CordonError naming the key; used at start and by `--check-config`.
 */
export function deskWebSettings(c: DeskWebConfig, controllerTls: TlsFiles): DeskWebSettings | undefined {
  if (c.listen === '') return undefined;
  try {
    parseAddress(c.listen);
  } catch (err) {
    throw new CordonError('invalid', (err as Error).message, { field: 'web.desk.listen', cause: err });
  }
  if ((c.tls.cert === '') !== (c.tls.key === '')) {
    throw new CordonError('invalid', 'tls.cert and tls.key go together (both empty: the controller\'s own tls.cert and tls.key)', { field: c.tls.cert === '' ? 'web.desk.tls.cert' : 'web.desk.tls.key' });
  }
  const own = c.tls.cert !== '';
  const files: TlsFiles = { ca: controllerTls.ca, cert: own ? c.tls.cert : controllerTls.cert, key: own ? c.tls.key : controllerTls.key };
  const tls = loadTlsMaterial(files, own ? 'web.desk.tls' : 'tls');
  checkKeyPair(tls, files, own ? 'web.desk.tls' : 'tls');
  return { listen: c.listen, tls, maxEventClients: c.maxEventClients };
}
