import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { checkKeyPair } from '../../../proto/runtime/checkKeyPair.js';
import { parseCidr } from '../../../proto/runtime/cidr.js';
import { parseAddress } from '../../../proto/runtime/address.js';

/** `web.customer.*` as the page's server needs it, checked and with its files read. */
export interface CustomerWebSettings {
  /** host:port; port 0 picks a free one (tests). */
  listen: string;
  /** The page's own certificate and key (PEM); without them plain HTTP on loopback only. */
  tls: { cert: Buffer; key: Buffer } | undefined;
  /** Where customers reach the page, without a trailing slash. */
  publicUrl: string;
  /** Proxies whose X-Forwarded-For names the customer; empty: the socket peer. */
  trustProxy: string[];
  badTokensPerMinute: number;
  maxFiles: number;
  maxFileBytes: number;
}

/** The config keys, as config.ts holds them. */
export interface CustomerWebConfig {
  listen: string;
  publicUrl: string;
  tls: { cert: string; key: string };
  trustProxy: string[];
  badTokensPerMinute: number;
  maxFiles: number;
  maxFileBytes: number;
}

const invalid = (field: string, message: string): never => {
  throw new CordonError('invalid', message, { field });
};

/** Whether a listen host is loopback only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * Checks `web.customer.*` and reads its certificate, or returns undefined
 * when the page is off (listen empty). Plain HTTP is refused anywhere but on
 * loopback: the token in the URL must never cross a network in clear text.
 * Throws an `invalid` CordonError naming the key; used at start and by
 * `--check-config`.
 */
export function customerWebSettings(c: CustomerWebConfig): CustomerWebSettings | undefined {
  if (c.listen === '') return undefined;
  const { host } = parseAddress(c.listen);
  const withTls = c.tls.cert !== '' || c.tls.key !== '';
  if (withTls && (c.tls.cert === '' || c.tls.key === '')) invalid(c.tls.cert === '' ? 'web.customer.tls.cert' : 'web.customer.tls.key', 'tls.cert and tls.key go together');
  if (!withTls && !isLoopbackHost(host)) {
    invalid('web.customer.listen', `${c.listen} is not a loopback address: plain HTTP would carry customers' links in clear text; listen on 127.0.0.1 behind a TLS proxy (deploy/nginx/) or set web.customer.tls.cert and web.customer.tls.key`);
  }
  if (c.publicUrl === '') invalid('web.customer.publicUrl', 'is required when web.customer.listen is set: the notices link it');
  let url: URL;
  try {
    url = new URL(c.publicUrl);
  } catch {
    return invalid('web.customer.publicUrl', `${c.publicUrl} is not a URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    invalid('web.customer.publicUrl', `${c.publicUrl} must be https:// (http:// only for a loopback test address)`);
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') invalid('web.customer.publicUrl', 'may not carry a query, a fragment or credentials');
  for (const [i, p] of c.trustProxy.entries()) {
    try {
      parseCidr(String(p).includes('/') ? String(p) : `${p}/${isIP(String(p)) === 6 ? 128 : 32}`);
    } catch {
      invalid(`web.customer.trustProxy[${i}]`, `${String(p)} is not an IP address or CIDR`);
    }
  }
  let tls: CustomerWebSettings['tls'];
  if (withTls) {
    const read = (name: 'cert' | 'key') => {
      try {
        return readFileSync(c.tls[name]);
      } catch (err) {
        return invalid(`web.customer.tls.${name}`, `cannot read ${c.tls[name]}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
    };
    const cert = read('cert');
    const key = read('key');
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(cert);
    } catch (err) {
      return invalid('web.customer.tls.cert', `${c.tls.cert} is not a PEM certificate: ${(err as Error).message}`);
    }
    checkKeyPair({ ca: Buffer.alloc(0), cert, key, certificate }, c.tls, 'web.customer.tls');
    tls = { cert, key };
  }
  return {
    listen: c.listen,
    tls,
    publicUrl: c.publicUrl.replace(/\/+$/, ''),
    trustProxy: c.trustProxy.map(String),
    badTokensPerMinute: c.badTokensPerMinute,
    maxFiles: c.maxFiles,
    maxFileBytes: c.maxFileBytes,
  };
}
