import { isAbsolute } from 'node:path';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { HOST_ID_PATTERN } from '../../proto/runtime/peerIdentity.js';
import { FINGERPRINT_PATTERN } from './hostKeyFingerprint.js';
import { samePort, validatePortName } from './portName.js';
import { SWITCH_VENDORS, type SwitchTarget, type SwitchVendor } from './SwitchDriver.js';

/** A host and the switch port that carries its public traffic. */
export interface SwitchInventoryEntry {
  hostId: string;
  target: SwitchTarget;
}

const SWITCH_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const USER = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$/;
/** The fields that describe the switch itself, which every entry naming it must agree on. */
const SWITCH_FIELDS = ['address', 'port', 'user', 'privateKeyFile', 'hostKeySha256', 'vendor'] as const;

function fail(field: string, message: string): never {
  throw new CordonError('invalid', message, { field });
}

function text(e: Record<string, unknown>, at: string, key: string, pattern?: RegExp): string {
  const v = e[key];
  if (typeof v !== 'string' || v === '') fail(`${at}.${key}`, 'missing (a non-empty string)');
  if (pattern && !pattern.test(v)) fail(`${at}.${key}`, `${JSON.stringify(v)} must match ${pattern}`);
  return v;
}

function parseEntry(raw: unknown, at: string): SwitchInventoryEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(at, 'must be an object');
  const e = raw as Record<string, unknown>;
  const hostId = text(e, at, 'hostId', HOST_ID_PATTERN);
  const switchId = text(e, at, 'switchId', SWITCH_ID);
  const address = text(e, at, 'address', /^\S+$/);
  const user = text(e, at, 'user', USER);
  const privateKeyFile = text(e, at, 'privateKeyFile');
  if (!isAbsolute(privateKeyFile)) fail(`${at}.privateKeyFile`, `${privateKeyFile} must be an absolute path`);
  if (e.hostKeySha256 === undefined || e.hostKeySha256 === '') {
    fail(`${at}.hostKeySha256`, 'missing: pin the switch host key as `ssh-keygen -lf` prints it (SHA256:…), checked on the console');
  }
  if (typeof e.hostKeySha256 !== 'string' || !FINGERPRINT_PATTERN.test(e.hostKeySha256)) {
    fail(`${at}.hostKeySha256`, `${JSON.stringify(e.hostKeySha256)} is not a SHA-256 fingerprint (SHA256: and 43 base64 characters)`);
  }
  if (typeof e.vendor !== 'string' || !(SWITCH_VENDORS as readonly string[]).includes(e.vendor)) {
    fail(`${at}.vendor`, `unknown vendor ${JSON.stringify(e.vendor)}; one of ${SWITCH_VENDORS.join(', ')}`);
  }
  const port = e.port ?? 22;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) fail(`${at}.port`, 'must be an integer from 1 to 65535');
  const hostPort = validatePortName(e.hostPort, `${at}.hostPort`);
  if (!Array.isArray(e.protectedPorts) || e.protectedPorts.length === 0) {
    fail(`${at}.protectedPorts`, 'must list the switch ports never to touch (uplinks, trunks, BMC ports): at least one');
  }
  const protectedPorts = e.protectedPorts.map((p, j) => validatePortName(p, `${at}.protectedPorts[${j}]`));
  const target: SwitchTarget = {
    switchId, address, port, user, privateKeyFile, hostKeySha256: e.hostKeySha256, vendor: e.vendor as SwitchVendor, hostPort, protectedPorts,
  };
  return { hostId, target };
}

/**
 * Validates the switch-port inventory at load, before any switch is touched,
 * and throws `invalid` naming the field (`switchPorts[3].hostKeySha256`) on
 * the first problem: a missing field, a malformed port name or fingerprint,
 * an unknown vendor, a host port that is protected, a host listed twice, two
 * hosts on one switch port, or one switch described two different ways.
 *
 * Protected ports are per switch: each returned target carries the union of
 * what every entry for its switch protects, so no entry can open a hole in
 * another's list.
 */
export function validateSwitchInventory(entries: unknown, listField = 'switchPorts'): SwitchInventoryEntry[] {
  if (!Array.isArray(entries)) fail(listField, 'must be an array of host switch ports');
  const parsed = entries.map((raw, i) => parseEntry(raw, `${listField}[${i}]`));
  const bySwitch = new Map<string, { at: string; entry: SwitchInventoryEntry }[]>();
  const hosts = new Map<string, string>();
  parsed.forEach((entry, i) => {
    const at = `${listField}[${i}]`;
    const seen = hosts.get(entry.hostId);
    if (seen !== undefined) fail(`${at}.hostId`, `host ${entry.hostId} is already listed at ${seen}`);
    hosts.set(entry.hostId, at);
    const group = bySwitch.get(entry.target.switchId) ?? [];
    group.push({ at, entry });
    bySwitch.set(entry.target.switchId, group);
  });
  for (const [switchId, group] of bySwitch) {
    const first = group[0]!;
    const vendor = first.entry.target.vendor;
    for (const { at, entry } of group.slice(1)) {
      for (const key of SWITCH_FIELDS) {
        if (entry.target[key] !== first.entry.target[key]) {
          fail(`${at}.${key}`, `switch ${switchId} is described differently at ${first.at} (${String(first.entry.target[key])} vs ${String(entry.target[key])})`);
        }
      }
    }
    const allProtected = [...new Set(group.flatMap(({ entry }) => entry.target.protectedPorts))];
    for (const [k, { at, entry }] of group.entries()) {
      const hit = allProtected.find((p) => samePort(vendor, p, entry.target.hostPort));
      if (hit !== undefined) fail(`${at}.hostPort`, `${entry.target.hostPort} on switch ${switchId} is a protected port (${hit}): a host port is never an uplink or BMC port`);
      const twin = group.slice(0, k).find((o) => samePort(vendor, o.entry.target.hostPort, entry.target.hostPort));
      if (twin) fail(`${at}.hostPort`, `${entry.target.hostPort} on switch ${switchId} is already the port of host ${twin.entry.hostId} (${twin.at})`);
    }
    for (const { entry } of group) entry.target.protectedPorts = allProtected;
  }
  return parsed;
}
