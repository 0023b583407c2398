/**
 * Node builds one store of public root certificates per process, the first
 * time any TLS context is made, even one that names its own CA and never
 * consults that store: about 20 ms of parsing some 140 certificates on this
 * project's machine, and some 0.4 MiB kept. Every connection cordonctl and
 * the agent make trusts the Cordon CA alone (UnaryChannel and Http2Bidi
 * pass it as `ca`), so they need no public roots. Under --use-openssl-ca
 * (their #! lines) the store comes from OpenSSL's default paths, which this
 * points at nothing; started without that flag, it is Node's bundled list as
 * usual and only costs more. Call before the first TLS connection; child
 * processes (nft, tc, ip) inherit the two variables and use no TLS.
 */
export function trustCordonCaOnly(execArgv: readonly string[], env: NodeJS.ProcessEnv): void {
  if (!execArgv.includes('--use-openssl-ca')) return;
  env.SSL_CERT_FILE = '/dev/null';
  env.SSL_CERT_DIR = '/dev/null';
}
