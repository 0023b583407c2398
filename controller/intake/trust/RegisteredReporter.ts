import { CordonError } from '../../../proto/runtime/CordonError.js';
import { HOST_ID_PATTERN } from '../../../proto/runtime/peerIdentity.js';
import { REPORTER_KINDS, type ReporterKind } from '../../incidents/model.js';

/**
 * A reporter Cordon knows by name: who may be believed, and how a report is
 * recognised as theirs (an aligned DKIM signature of one of `domains`, an
 * ARC seal when `arcForwarder`, or the client certificate of `feed`).
 */
export interface RegisteredReporter {
  /** A short id (`cert-bund`, `spamcop`): lower-case letters, digits, `.`, `_`, `-`. */
  id: string;
  name: string;
  /** What a complaint authenticated as this reporter is recorded as. */
  kind: ReporterKind;
  /** Mail domains, lower-case; an aligned DKIM signature for one of them (or a subdomain's From of that organisation) is this reporter. */
  domains: string[];
  /** A forwarder (a list, a relay) whose ARC seal is believed: its recorded DMARC pass counts. */
  arcForwarder: boolean;
  /** A feed name: submissions with the client certificate urn:cordon:feed:NAME are this reporter's. */
  feed?: string | undefined;
  /**
   * Whether the reporter is mailed the outcome when an incident its report
   * joined ends. Absent: as `outcome.mailReporters` / `outcome.feedReporters`
   * say for its kind of registration; false: never; true: when those allow it.
   */
  notifyOutcome?: boolean | undefined;
}

/** Kinds a registered reporter may have: `anonymous` is what an unregistered sender is, never a registry entry. */
export const REGISTRY_KINDS: readonly ReporterKind[] = REPORTER_KINDS.filter((k) => k !== 'anonymous');

/** One DNS label: letters, digits, hyphens inside; IDNs as punycode (xn--). */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `name` is a lower-case DNS name of at least two labels (a mail domain, not `localhost`). */
export function isMailDomain(name: string): boolean {
  if (name.length > 253) return false;
  const labels = name.split('.');
  return labels.length >= 2 && labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels.at(-1)!);
}

/**
 * Checks a reporter as an operator or a config file gives it, and returns it
 * normalised (domains lower-cased, trimmed, duplicates dropped). `invalid`
 * names the field under `prefix` (`reporter.kind`, `reporters[2].domains[0]`).
 */
export function validateReporter(value: unknown, prefix: string): RegisteredReporter {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CordonError('invalid', 'must be an object {id, name, kind, domains, arcForwarder?, feed?}', { field: prefix });
  }
  const v = value as Record<string, unknown>;
  const known = ['id', 'name', 'kind', 'domains', 'arcForwarder', 'feed', 'notifyOutcome'];
  const extra = Object.keys(v).find((k) => !known.includes(k));
  if (extra) throw new CordonError('invalid', `unknown key (known: ${known.join(', ')})`, { field: `${prefix}.${extra}` });

  if (typeof v.id !== 'string' || !HOST_ID_PATTERN.test(v.id)) {
    throw new CordonError('invalid', `must match ${HOST_ID_PATTERN} (e.g. "cert-bund")`, { field: `${prefix}.id` });
  }
  if (typeof v.name !== 'string' || v.name.trim() === '') throw new CordonError('invalid', 'must be a non-empty string', { field: `${prefix}.name` });
  if (v.kind === 'anonymous') {
    throw new CordonError('invalid', 'anonymous is what an unregistered sender is; a registered reporter is known by name', { field: `${prefix}.kind` });
  }
  if (typeof v.kind !== 'string' || !(REGISTRY_KINDS as readonly string[]).includes(v.kind)) {
    throw new CordonError('invalid', `${JSON.stringify(v.kind)} is not one of ${REGISTRY_KINDS.join(', ')}`, { field: `${prefix}.kind` });
  }
  const rawDomains = v.domains ?? [];
  if (!Array.isArray(rawDomains)) throw new CordonError('invalid', 'must be a list of mail domains', { field: `${prefix}.domains` });
  const domains: string[] = [];
  rawDomains.forEach((d, i) => {
    const name = typeof d === 'string' ? d.trim().toLowerCase().replace(/\.$/, '') : '';
    if (!isMailDomain(name)) throw new CordonError('invalid', `${JSON.stringify(d)} is not a DNS name (e.g. "cert.example")`, { field: `${prefix}.domains[${i}]` });
    if (!domains.includes(name)) domains.push(name);
  });
  const arcForwarder = v.arcForwarder ?? false;
  if (typeof arcForwarder !== 'boolean') throw new CordonError('invalid', 'must be true or false', { field: `${prefix}.arcForwarder` });
  let feed: string | undefined;
  if (v.feed !== undefined && v.feed !== null && v.feed !== '') {
    if (typeof v.feed !== 'string' || !HOST_ID_PATTERN.test(v.feed)) {
      throw new CordonError('invalid', `must match ${HOST_ID_PATTERN} (the NAME of its urn:cordon:feed:NAME certificate)`, { field: `${prefix}.feed` });
    }
    feed = v.feed;
  }
  if (domains.length === 0 && !feed) {
    throw new CordonError('invalid', 'a reporter needs at least one domain or a feed: otherwise nothing can authenticate as it', { field: `${prefix}.domains` });
  }
  if (v.notifyOutcome !== undefined && v.notifyOutcome !== null && typeof v.notifyOutcome !== 'boolean') {
    throw new CordonError('invalid', 'must be true or false', { field: `${prefix}.notifyOutcome` });
  }
  const notifyOutcome = typeof v.notifyOutcome === 'boolean' ? v.notifyOutcome : undefined;
  return { id: v.id, name: v.name.trim(), kind: v.kind as ReporterKind, domains, arcForwarder, ...(feed ? { feed } : {}), ...(notifyOutcome !== undefined ? { notifyOutcome } : {}) };
}

/**
 * Checks a whole list (a config file's, a dry run's): each reporter, and that
 * no id, domain or feed appears twice. Fields are named `prefix[i]…`.
 */
export function validateReporterList(value: unknown, prefix: string): RegisteredReporter[] {
  if (!Array.isArray(value)) throw new CordonError('invalid', 'must be a list of reporters', { field: prefix });
  const list = value.map((r, i) => validateReporter(r, `${prefix}[${i}]`));
  const ids = new Map<string, number>();
  const domains = new Map<string, string>();
  const feeds = new Map<string, string>();
  list.forEach((r, i) => {
    if (ids.has(r.id)) throw new CordonError('invalid', `duplicate id ${r.id} (also ${prefix}[${ids.get(r.id)}])`, { field: `${prefix}[${i}].id` });
    ids.set(r.id, i);
    r.domains.forEach((d, j) => {
      const owner = domains.get(d);
      if (owner) throw new CordonError('invalid', `${d} already belongs to reporter ${owner}`, { field: `${prefix}[${i}].domains[${j}]` });
      domains.set(d, r.id);
    });
    if (r.feed) {
      const owner = feeds.get(r.feed);
      if (owner) throw new CordonError('invalid', `feed ${r.feed} already belongs to reporter ${owner}`, { field: `${prefix}[${i}].feed` });
      feeds.set(r.feed, r.id);
    }
  });
  return list;
}

/**
 * The registered reporter a mail domain belongs to: the one listing the
 * domain itself, else the one listing its organisational domain (as
 * mailauth's DMARC computed it). Undefined when neither is registered.
 */
export function reporterOfDomain(registry: readonly RegisteredReporter[], domain: string, orgDomain?: string): RegisteredReporter | undefined {
  const d = domain.toLowerCase();
  const o = orgDomain?.toLowerCase();
  return registry.find((r) => r.domains.includes(d)) ?? (o ? registry.find((r) => r.domains.includes(o)) : undefined);
}
