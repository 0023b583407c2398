import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import convict from 'convict';
import { CordonError } from './CordonError.js';
import { HOST_ID_PATTERN } from './peerIdentity.js';
import { parseCidr } from './cidr.js';

/** "host:port" or "[v6]:port"; what gRPC accepts as a target or a listen address. */
export function parseAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new Error(`must be host:port or [ipv6]:port, got ${JSON.stringify(value)}`);
  }
  const host = m[1] ?? m[2]!;
  if (m[1] && isIP(host) !== 6) throw new Error(`${host} is not an IPv6 address`);
  return { host, port };
}

let formatsAdded = false;

/** Registers Cordon's value formats with convict (once per process). */
export function addCordonFormats(): void {
  if (formatsAdded) return;
  formatsAdded = true;
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
    coerce: (v: unknown) => (typeof v === 'string' ? Number(v) : v),
    validate: (value: unknown) => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new Error('must be a positive integer');
    },
  });
}

export interface LoadOptions {
  /** JSON config file; absent means defaults plus environment. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/**
 * Builds a config from schema defaults, then the file, then the environment,
 * and validates it strictly: an unknown key, a wrong type or a missing file is
 * a CordonError of kind `invalid` whose message names the key and the reason.
 * Reads nothing but the file and the `env` it is given.
 */
export function loadConfig<T>(schema: convict.Schema<T>, opts: LoadOptions): convict.Config<T> {
  addCordonFormats();
  const config = convict(schema, { env: opts.env ?? {}, args: [] });
  if (opts.file) {
    if (!existsSync(opts.file)) {
      throw new CordonError('invalid', `config file ${opts.file} does not exist`, { field: 'config' });
    }
    try {
      config.loadFile(opts.file);
    } catch (err) {
      throw new CordonError('invalid', `config file ${opts.file} is not valid JSON: ${(err as Error).message}`, {
        field: 'config',
        cause: err,
      });
    }
  }
  try {
    config.validate({ allowed: 'strict' });
  } catch (err) {
    // convict joins one line per problem, each starting with the key.
    const problems = (err as Error).message.split('\n').filter(Boolean);
    throw new CordonError('invalid', `invalid configuration:\n  ${problems.join('\n  ')}`, { cause: err });
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
