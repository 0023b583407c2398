import { CordonError } from '../../proto/runtime/CordonError.js';
import type { SwitchTarget, SwitchVendor } from './SwitchDriver.js';

/**
 * A port name as the switch spells it (`swp1`, `GigabitEthernet1/0/5`,
 * `ge-0/0/5`, `xe-0/0/1:2`). Only these characters ever reach a command line,
 * which is what makes interpolating the name into a shell command or a CLI
 * line safe. The first character must be a letter or digit so that a name can
 * never be read as an option (`-f…`) by `ip` on a Linux switch.
 */
export const PORT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9/._:-]{0,63}$/;

/** Throws `invalid` naming `field` unless `name` is a well-formed port name. */
export function validatePortName(name: unknown, field: string): string {
  if (typeof name !== 'string' || !PORT_NAME_PATTERN.test(name)) {
    throw new CordonError('invalid', `port name ${JSON.stringify(name)} must match ${PORT_NAME_PATTERN} (letters, digits, / . _ : -)`, { field });
  }
  return name;
}

/**
 * Whether two spellings name the same port on a switch of `vendor`. IOS
 * accepts any case and abbreviated types (`Gi1/0/5` is `GigabitEthernet1/0/5`),
 * so there the type words are compared as prefixes; when in doubt this says
 * "same", which is the safe answer for the protected-port checks it serves.
 */
export function samePort(vendor: SwitchVendor, a: string, b: string): boolean {
  if (vendor !== 'ios') return a === b;
  const split = (s: string) => /^([a-z-]*)(.*)$/.exec(s.toLowerCase()) as RegExpExecArray;
  const [, typeA = '', restA] = split(a);
  const [, typeB = '', restB] = split(b);
  if (restA !== restB) return false;
  if (typeA === '' || typeB === '') return typeA === typeB;
  const [shorter, longer] = typeA.length <= typeB.length ? [typeA, typeB] : [typeB, typeA];
  return longer.startsWith(shorter);
}

/**
 * The guard every driver operation passes first: the host port must be well
 * formed and must not be one of the switch's protected ports (uplinks, BMC
 * ports), whatever the inventory says. Throws `invalid` or `refused`.
 */
export function assertAddressable(target: SwitchTarget): string {
  const port = validatePortName(target.hostPort, 'hostPort');
  const hit = target.protectedPorts.find((p) => samePort(target.vendor, p, port));
  if (hit !== undefined) {
    throw new CordonError('refused', `port ${port} on switch ${target.switchId} is protected (${hit}): Cordon never addresses it`, { field: 'hostPort' });
  }
  return port;
}

