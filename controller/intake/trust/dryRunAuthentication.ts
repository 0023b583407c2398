import { readFileSync } from 'node:fs';
import type { DNSResolver } from 'mailauth';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import type { ReporterKind } from '../../incidents/model.js';
import { DEFAULT_POLICY } from '../../incidents/policy.js';
import { unauthenticated, type Authentication } from './Authentication.js';
import { authenticateMail } from './authenticateMail.js';
import { createDnsResolver, validateDnsServers } from './createDnsResolver.js';
import { decideTrust } from './decideTrust.js';
import { validateReporterList, type RegisteredReporter } from './RegisteredReporter.js';

export interface DryRunAuthOptions {
  /** DNS servers ("127.0.0.1:5353"); the system resolver when absent. */
  dnsServers?: readonly string[] | undefined;
  /** The registry to decide with; without it the mail checks run and the registry is not consulted. */
  reporters?: readonly RegisteredReporter[] | undefined;
  /** Or a JSON file holding that list (`--reporters FILE`); read with readReportersFile. */
  reportersFile?: string | undefined;
  /** Default: the default policy's. */
  trustedKinds?: readonly ReporterKind[] | undefined;
  resolver?: DNSResolver | undefined;
}

/**
 * What `cordonctl ingest --dry-run --json` shows as `authentication`: the
 * mail checks for real (DNS included), and the decision against the
 * registry a `--reporters FILE` gave. A dry run has no controller, so
 * without that file the result is untrusted, "registry not consulted".
 */
export async function dryRunAuthentication(bytes: Buffer, opts: DryRunAuthOptions = {}): Promise<Authentication> {
  const reporters = opts.reporters ?? (opts.reportersFile ? readReportersFile(opts.reportersFile) : undefined);
  const dnsServers = opts.dnsServers ? validateDnsServers(opts.dnsServers, '--dns-server') : undefined;
  const mail = await authenticateMail(bytes, { resolver: opts.resolver ?? createDnsResolver(dnsServers) });
  if (!mail) return unauthenticated('not a mail: nothing to authenticate');
  const decided = decideTrust({ mail, registry: reporters ?? [], trustedKinds: opts.trustedKinds ?? DEFAULT_POLICY.trustedReporterKinds });
  if (reporters) return decided;
  // Without a registry nothing can be authenticated: say so, keep the checks, drop the registry's verdicts.
  return unauthenticated('registry not consulted: dry run (give --reporters FILE to decide)', decided.checks.filter((c) => c.method !== 'registry'));
}

/** Reads a JSON list of reporters ({id, name, kind, domains, arcForwarder?, feed?}); `invalid` names the file or the field. */
export function readReportersFile(path: string): RegisteredReporter[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CordonError('invalid', `cannot read ${path}: ${(err as Error).message}`, { field: '--reporters', cause: err });
  }
  return validateReporterList(raw, 'reporters');
}
