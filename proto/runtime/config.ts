import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import convict from 'convict';
import { CordonError } from './CordonError.js';
import { HOST_ID_PATTERN } from './peerIdentity.js';
import { parseCidr } from './cidr.js';
import { parseAddress } from './address.js';

export { parseAddress };

/** An e-mail address as SMTP takes it in MAIL FROM: dot-atom local part @ a host name (no display name). */
const MAIL_ADDRESS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const describe = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;

/** The longest 'address-list' (e.g. agent's controller.addresses): a handful of replicas, not a fleet. */
export const MAX_ADDRESSES = 16;

const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * Convict's own formats, made strict. Convict turns any string into the
 * key's type — `"drill": "no"` became `true`, `"port": "25"` became 25 —
 * whether it came from the file or the environment. Cordon takes JSON
 * types as they are (a string is never a boolean or a number) and parses
 * environment variables itself (`applyEnvironment`), strictly too. The
 * identity `coerce` replaces convict's; `validate` applies where a schema
 * names the format as a string ('port', 'nat', …).
 */
const strict = (name: string, ok: (v: unknown) => boolean, must: string) => ({
  name,
  validate: (v: unknown) => {
    if (!ok(v)) throw new Error(must);
  },
  coerce: (v: unknown) => v,
});
const STRICT_BUILTINS = [
  strict('boolean', (v) => typeof v === 'boolean', 'must be true or false (a JSON boolean)'),
  strict('number', (v) => typeof v === 'number' && Number.isFinite(v), 'must be a number'),
  strict('int', isInteger, 'must be an integer'),
  strict('integer', isInteger, 'must be an integer'),
  strict('nat', (v) => isInteger(v) && v >= 0, 'must be a non-negative integer'),
  strict('port', (v) => isInteger(v) && v >= 0 && v <= 65535, 'must be a TCP port (an integer 0-65535)'),
  strict('object', (v) => v !== null && typeof v === 'object' && !Array.isArray(v), 'must be an object'),
  strict('array', Array.isArray, 'must be a list'),
];

let formatsAdded = false;

/** Registers Cordon's value formats with convict, and makes its built-in ones strict (once per process). */
export function addCordonFormats(): void {
  if (formatsAdded) return;
  formatsAdded = true;
  for (const f of STRICT_BUILTINS) convict.addFormat(f);
  convict.addFormat({
    name: 'mail-address',
    validate: (value: unknown) => {
      if (typeof value !== 'string' || !MAIL_ADDRESS.test(value)) {
        throw new Error('must be a bare e-mail address (local@domain, no display name)');
      }
    },
  });
  convict.addFormat({
    name: 'hostname',
    validate: (value: unknown) => {
      if (typeof value !== 'string' || (!isIP(value) && !HOST_NAME.test(value))) throw new Error('must be a host name or an IP address (not empty)');
    },
  });
  convict.addFormat({
    name: 'address',
    validate: (value: unknown) => {
      if (typeof value !== 'string') throw new Error('must be a string host:port');
      parseAddress(value);
    },
  });
  convict.addFormat({
    name: 'optional-address',
    validate: (value: unknown) => {
      if (typeof value !== 'string') throw new Error('must be a string host:port, or empty');
      if (value !== '') parseAddress(value);
    },
  });
  convict.addFormat({
    name: 'address-list',
    validate: (value: unknown) => {
      if (!Array.isArray(value)) throw new Error('must be a list of host:port');
      if (value.length > MAX_ADDRESSES) throw new Error(`must list at most ${MAX_ADDRESSES} addresses, got ${value.length}`);
      const seen = new Set<string>();
      value.forEach((item: unknown, i) => {
        if (typeof item !== 'string') throw new Error(`[${i}] must be a string host:port, got ${describe(item)}`);
        let parsed: { host: string; port: number };
        try {
          parsed = parseAddress(item);
        } catch (err) {
          throw new Error(`[${i}] ${(err as Error).message}`);
        }
        // Host names are case-insensitive: ctl.mgmt:7443 and CTL.mgmt:7443 are one controller.
        const key = `${parsed.host.toLowerCase()}:${parsed.port}`;
        if (seen.has(key)) throw new Error(`[${i}] ${JSON.stringify(item)} is listed twice`);
        seen.add(key);
      });
    },
  });
  convict.addFormat({
    name: 'postgres-url',
    validate: (value: unknown) => {
      // The driver's own parser reads the rest (a Unix socket is postgres://user@/db?host=/dir, which WHATWG URL refuses).
      // The value is never echoed: it may carry a password.
      if (typeof value !== 'string' || (value !== '' && !/^postgres(ql)?:\/\/[^\s]*$/.test(value))) throw new Error('must be empty or a postgres:// (or postgresql://) connection string');
    },
  });
  convict.addFormat({
    name: 'cidr-list',
    validate: (value: unknown) => {
      if (!Array.isArray(value)) throw new Error('must be a list of CIDRs');
      for (const item of value) parseCidr(String(item));
    },
  });
  convict.addFormat({
    name: 'name-list',
    validate: (value: unknown) => {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
        throw new Error('must be a list of non-empty strings');
      }
    },
  });
  convict.addFormat({
    name: 'port-list',
    validate: (value: unknown) => {
      if (!Array.isArray(value) || value.length === 0 || value.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
        throw new Error('must be a non-empty list of TCP ports (1-65535)');
      }
    },
  });
  convict.addFormat({
    name: 'host-id',
    validate: (value: unknown) => {
      if (typeof value !== 'string' || !HOST_ID_PATTERN.test(value)) {
        throw new Error(`must match ${HOST_ID_PATTERN}`);
      }
    },
  });
  convict.addFormat({
    name: 'positive-int',
    validate: (value: unknown) => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new Error('must be a positive integer');
    },
  });
}

/** A schema node that is a setting (convict's rule: it has a default), not a group of them. */
function isLeaf(node: unknown): node is { default: unknown; format?: unknown; env?: string } {
  return typeof node === 'object' && node !== null && !Array.isArray(node) && 'default' in node;
}

/** The name of a leaf's format as convict knows it: 'boolean' for Boolean, 'port', 'cidr-list', … */
function formatName(format: unknown): string {
  if (typeof format === 'function') return format.name.toLowerCase();
  if (typeof format === 'string') return format;
  return Array.isArray(format) ? 'one-of' : 'any';
}

const JSON_FORMATS = new Set(['object', 'array', 'address-list', 'cidr-list', 'name-list', 'port-list']);
const INTEGER_FORMATS = new Set(['int', 'integer', 'nat', 'port', 'positive-int']);

/** Parses an environment variable's text as the key's type; throws naming what it must be. */
function parseEnvValue(raw: string, format: unknown): unknown {
  const name = formatName(format);
  if (name === 'boolean') {
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw new Error(`must be true or false, got ${JSON.stringify(raw)}`);
  }
  if (INTEGER_FORMATS.has(name)) {
    if (!/^-?\d+$/.test(raw)) throw new Error(`must be an integer, got ${JSON.stringify(raw)}`);
    return Number(raw);
  }
  if (name === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`must be a number, got ${JSON.stringify(raw)}`);
    return n;
  }
  if (JSON_FORMATS.has(name)) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new Error(`must be JSON (${name}), got ${JSON.stringify(raw)}`);
    }
  }
  return raw;
}

/**
 * Problems with the file's shape that convict would mangle rather than
 * report: a group of settings given as a scalar, or a setting given as an
 * object where it takes none. Unknown keys are left to convict's strict check.
 */
function shapeProblems(schema: Record<string, unknown>, value: unknown, prefix: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [`${prefix || '(the file)'}: must be an object (a group of settings), got ${describe(value)}`];
  }
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const node = schema[key];
    const path = prefix ? `${prefix}.${key}` : key;
    if (node === undefined || node === null || typeof node !== 'object') continue;
    if (isLeaf(node)) {
      const name = formatName(node.format);
      const takesObject = name === 'object' || (name === 'any' && typeof node.default === 'object');
      if (!takesObject && v !== null && typeof v === 'object' && !Array.isArray(v)) problems.push(`${path}: takes no object, got an object`);
    } else {
      problems.push(...shapeProblems(node as Record<string, unknown>, v, path));
    }
  }
  return problems;
}

/** Sets every key whose environment variable is present, parsed strictly; returns the problems, each naming key and variable. */
function applyEnvironment(config: convict.Config<unknown>, schema: Record<string, unknown>, env: NodeJS.ProcessEnv, prefix = ''): string[] {
  const problems: string[] = [];
  for (const [key, node] of Object.entries(schema)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isLeaf(node)) {
      const raw = node.env ? env[node.env] : undefined;
      if (raw === undefined) continue;
      try {
        (config as convict.Config<Record<string, unknown>>).set(path, parseEnvValue(raw, node.format));
      } catch (err) {
        problems.push(`${path} (from $${node.env}): ${(err as Error).message}`);
      }
    } else if (node && typeof node === 'object') {
      problems.push(...applyEnvironment(config, node as Record<string, unknown>, env, path));
    }
  }
  return problems;
}

export interface LoadOptions {
  /** JSON config file; absent means defaults plus environment. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

const invalid = (problems: string[], cause?: unknown) =>
  new CordonError('invalid', `invalid configuration:\n  ${problems.join('\n  ')}`, cause === undefined ? {} : { cause });

/**
 * Builds a config from schema defaults, then the file, then the environment,
 * and validates it strictly: an unknown key, a value of the wrong JSON type
 * (a string for a boolean or a number, too: nothing is coerced), a bad
 * environment variable or a missing file is a CordonError of kind `invalid`
 * whose message names the key and the reason. Environment variables are
 * parsed by the key's type: `true`/`false`, decimal integers, JSON for
 * lists and objects, text otherwise. Reads nothing but the file and the
 * `env` it is given.
 */
export function loadConfig<T>(schema: convict.Schema<T>, opts: LoadOptions): convict.Config<T> {
  addCordonFormats();
  // Convict gets no environment: it would coerce it loosely (applyEnvironment does it strictly).
  const config = convict(schema, { env: {}, args: [] });
  const tree = schema as unknown as Record<string, unknown>;
  if (opts.file) {
    if (!existsSync(opts.file)) {
      throw new CordonError('invalid', `config file ${opts.file} does not exist`, { field: 'config' });
    }
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(opts.file, 'utf8')) as unknown;
    } catch (err) {
      throw new CordonError('invalid', `config file ${opts.file} is not valid JSON: ${(err as Error).message}`, {
        field: 'config',
        cause: err,
      });
    }
    const shape = shapeProblems(tree, data, '');
    if (shape.length > 0) throw invalid(shape);
    config.load(data as Partial<T>);
  }
  const fromEnv = applyEnvironment(config as convict.Config<unknown>, tree, opts.env ?? {});
  if (fromEnv.length > 0) throw invalid(fromEnv);
  try {
    config.validate({ allowed: 'strict' });
  } catch (err) {
    // convict joins one line per problem, each starting with the key.
    throw invalid((err as Error).message.split('\n').filter(Boolean), err);
  }
  return config;
}

/**
 * Every key of a schema with its doc, default, format and environment
 * variable, flattened to dotted paths: the reference `--print-config-schema`
 * prints, generated from the one place defaults live.
 */
export function describeSchema(schema: Record<string, unknown>, prefix = ''): Record<string, { doc: string; default: unknown; format: string; env?: string; sensitive?: boolean }> {
  const out: Record<string, { doc: string; default: unknown; format: string; env?: string; sensitive?: boolean }> = {};
  for (const [key, value] of Object.entries(schema)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const v = value as Record<string, unknown>;
    if (v && typeof v === 'object' && 'doc' in v && 'default' in v) {
      const f = v.format;
      const format = typeof f === 'string' ? f : Array.isArray(f) ? f.join('|') : typeof f === 'function' ? (f as { name: string }).name.toLowerCase() : 'any';
      out[path] = { doc: String(v.doc), default: v.sensitive ? '[redacted]' : v.default, format, ...(v.env ? { env: String(v.env) } : {}), ...(v.sensitive ? { sensitive: true } : {}) };
    } else if (v && typeof v === 'object') {
      Object.assign(out, describeSchema(v, path));
    }
  }
  return out;
}

/** The effective config as JSON with `sensitive` values redacted. */
export function printableConfig<T>(config: convict.Config<T>): string {
  return JSON.stringify(JSON.parse(config.toString()), null, 2);
}
