// A benchmark host's BMC: OpenIPMI's ipmi_sim on the management namespace,
// as the lab runs one per host. A cut waits for a good BMC check (the
// customer must keep the console), so a benchmark that cuts needs one, as a
// real host has one. Returns the inventory's `bmc` entry, the controller's
// `bmc` config and what to start.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IPMI_SIM_EMU, ipmiSimLanConf } from '../../../dist/deploy/lab/ipmiSimConfig.js';
import { ip } from './netns.mjs';

/**
 * Writes the BMC's files under `work/bmc/<hostId>`, adds `address` to the
 * management namespace's `dev`, and returns { inventory, controllerConfig, command }:
 * start `command` (ipmi_sim's argv) in the management namespace.
 */
export function benchBmc(work, { hostId, mgmtNs, dev = 'm0', address = '10.255.0.101' }) {
  const dir = join(work, 'bmc', hostId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const password = randomBytes(8).toString('hex');
  writeFileSync(join(dir, 'password'), password, { mode: 0o600 });
  writeFileSync(join(dir, 'lan.conf'), ipmiSimLanConf({ name: `${hostId}-bmc`, address, port: 623, user: 'cordon', password }), { mode: 0o600 });
  writeFileSync(join(dir, 'sim.emu'), IPMI_SIM_EMU);
  ip('-n', mgmtNs, 'addr', 'add', `${address}/16`, 'dev', dev);
  return {
    inventory: { address, port: 623, user: 'cordon', passwordFile: join(dir, 'password') },
    controllerConfig: { credentialsDir: join(work, 'bmc') },
    command: ['ipmi_sim', '-c', join(dir, 'lan.conf'), '-f', join(dir, 'sim.emu'), '-s', dir, '-n'],
  };
}
