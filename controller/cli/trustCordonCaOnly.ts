/**
 * Node builds one store of public root certificates per process, the first
 * time any TLS context is made, even one that names its own CA and never
 * consults that store: about 20 ms of parsing some 140 certificates on this
 * project's machine, in every command. Every connection cordonctl makes
 * trusts the Cordon CA alone (UnaryChannel passes it as `ca`), so it needs
 * no public roots. Under --use-openssl-ca (cordonctl's #! line) the store
 * comes from OpenSSL's default paths, which this points at nothing; started
 * without that flag, it is Node's bundled list as usual and only slower.
 * Call before the first TLS connection.
 */
export function trustCordonCaOnly(execArgv: readonly string[], env: NodeJS.ProcessEnv): void {
  if (!execArgv.includes('--use-openssl-ca')) return;
  env.SSL_CERT_FILE = '/dev/null';
  env.SSL_CERT_DIR = '/dev/null';
}
