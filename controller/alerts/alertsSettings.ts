import { statSync, readFileSync } from 'node:fs';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { parseAddress } from '../../proto/runtime/address.js';

/** The detectors whose alerts the listener takes, each on its own route. */
export const ALERT_SOURCE_KINDS = ['crowdsec', 'fastnetmon'] as const;
export type AlertSourceKind = (typeof ALERT_SOURCE_KINDS)[number];

/** One entry of `alerts.sources`, as config.ts holds it. */
export interface AlertSourceConfig {
  id: string;
  kind: AlertSourceKind;
  tokenFile: string;
}

/** `alerts.*` as config.ts holds it. */
export interface AlertsConfig {
  listen: string;
  tls: boolean;
  sources: AlertSourceConfig[];
}

/** One source, its token read. */
export interface AlertSource {
  id: string;
  kind: AlertSourceKind;
  token: Buffer;
}

/** `alerts.*` as the listener needs it, checked and with its files read. */
export interface AlertsSettings {
  /** host:port; port 0 picks a free one (tests). */
  listen: string;
  /** The controller's own certificate and key: HTTPS. Absent: plain HTTP (the management network only). */
  tls: { cert: Buffer; key: Buffer } | undefined;
  sources: AlertSource[];
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** A token shorter than this is guessable; `openssl rand -hex 32` makes 64. */
export const MIN_TOKEN_CHARS = 16;

const invalid = (field: string, message: string): never => {
  throw new CordonError('invalid', message, { field });
};

/**
 * Checks the shape of `alerts.sources` (convict's format; `at` prefixes the
 * field named): ids unique and plain, kinds known, a token file each. Throws
 * an `invalid` CordonError naming the entry.
 */
export function validateAlertSources(value: unknown, at = 'alerts.sources'): asserts value is AlertSourceConfig[] {
  if (!Array.isArray(value)) invalid(at, 'must be a list of {"id", "kind", "tokenFile"}');
  const seen = new Set<string>();
  for (const [i, raw] of (value as unknown[]).entries()) {
    const f = `${at}[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) invalid(f, 'must be an object {"id", "kind", "tokenFile"}');
    const s = raw as Record<string, unknown>;
    for (const k of Object.keys(s)) if (!['id', 'kind', 'tokenFile'].includes(k)) invalid(`${f}.${k}`, 'is not a key of an alert source (id, kind, tokenFile)');
    if (typeof s.id !== 'string' || !ID.test(s.id)) invalid(`${f}.id`, 'must be 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit');
    if (seen.has(s.id as string)) invalid(`${f}.id`, `${String(s.id)} is named twice`);
    seen.add(s.id as string);
    if (!(ALERT_SOURCE_KINDS as readonly unknown[]).includes(s.kind)) invalid(`${f}.kind`, `must be one of ${ALERT_SOURCE_KINDS.join(', ')}`);
    if (typeof s.tokenFile !== 'string' || !s.tokenFile.startsWith('/')) invalid(`${f}.tokenFile`, 'must be an absolute path');
  }
}

/** Reads one token file: present, a regular file, not world-readable, not empty, long enough. */
function readToken(file: string, field: string): Buffer {
  let mode: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return invalid(field, `${file} is not a regular file`);
    mode = st.mode;
  } catch (err) {
    return invalid(field, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if ((mode & 0o004) !== 0) invalid(field, `${file} is world-readable (mode ${(mode & 0o777).toString(8)}): chmod 0640 or tighter, owned by root and the controller's group`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    return invalid(field, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (text === '') invalid(field, `${file} is empty`);
  if (text.length < MIN_TOKEN_CHARS || /\s/.test(text)) invalid(field, `${file} must hold one token of at least ${MIN_TOKEN_CHARS} characters, no spaces (openssl rand -hex 32)`);
  return Buffer.from(text, 'utf8');
}

/**
 * Checks `alerts.*` and reads every token file, or returns undefined when
 * the listener is off (listen empty). With `tls` the listener serves the
 * controller's own certificate (`controllerTls`). Throws an `invalid`
 * CordonError naming the key; used at start and by `--check-config`.
 */
export function alertsSettings(c: AlertsConfig, controllerTls: { cert: Buffer; key: Buffer }): AlertsSettings | undefined {
  validateAlertSources(c.sources);
  if (c.listen === '') return undefined;
  parseAddress(c.listen);
  if (c.sources.length === 0) invalid('alerts.sources', 'is empty: name at least one source, or leave alerts.listen empty');
  const sources = c.sources.map((s, i) => ({ id: s.id, kind: s.kind, token: readToken(s.tokenFile, `alerts.sources[${i}].tokenFile`) }));
  for (const [i, s] of sources.entries()) {
    const j = sources.findIndex((o) => o.token.equals(s.token));
    if (j !== i) invalid(`alerts.sources[${i}].tokenFile`, `holds the same token as alerts.sources[${j}]: each source needs its own`);
  }
  return { listen: c.listen, tls: c.tls ? { cert: controllerTls.cert, key: controllerTls.key } : undefined, sources };
}
