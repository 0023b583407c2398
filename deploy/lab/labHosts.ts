import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIpLinkJson } from '../../controller/switch/linuxProfile.js';
import { packageRoot } from '../../proto/runtime/version.js';
import { alive, namespacePids, poll, runInNamespace, startInNamespace } from './processes.js';
import type { LabHost, LabTopology } from './topology.js';

/**
 * What happens on and around a lab server outside Cordon's say-so: the
 * agent started (by the lab, or again by its customer), killed or its rules
 * flushed by a customer with root, and what the switch and the BMC show to
 * someone looking from outside. Shared by the demo's escape chapter and the
 * escape benchmark (test/bench/escape.mjs).
 */

/** Starts a server's cordon-agent in its namespace (its config and state in `<lab>/hosts/<id>`); returns its pid. */
export function startLabAgent(dir: string, h: LabHost): number {
  const main = join(packageRoot(), 'dist', 'agent/main.js');
  return startInNamespace(h.ns, `agent-${h.id}`, join(dir, 'logs'), process.execPath, ['--lite-mode', '--no-expose-wasm', '--use-openssl-ca', main, '--config', join(dir, 'hosts', h.id, 'agent.json')]);
}

/** The pid of the server's running cordon-agent, if any. */
export function labAgentPid(h: LabHost): number | undefined {
  return namespacePids(h.ns).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('agent/main.js');
    } catch {
      return false;
    }
  });
}

/**
 * What a customer with root on the server does to get rid of Cordon: kill -9
 * of the agent (no goodbye on its stream, no cleanup of its own), then
 * `nft flush ruleset` in the server's namespace, which removes the agent's
 * tables with everything else. Returns the killed pid, or undefined when no
 * agent ran.
 */
export async function escapeAsCustomer(h: LabHost): Promise<number | undefined> {
  const pid = labAgentPid(h);
  if (pid !== undefined) {
    process.kill(pid, 'SIGKILL');
    await poll(() => (alive(pid) && namespacePids(h.ns).includes(pid) ? undefined : true), 5_000);
  }
  runInNamespace(h.ns, 'nft', ['flush', 'ruleset']);
  return pid;
}

/** Whether the server's port on the lab switch is administratively up, read from the switch's kernel (undefined: no such port). */
export function switchPortUp(t: LabTopology, h: LabHost): boolean | undefined {
  try {
    return parseIpLinkJson(h.switchPort, runInNamespace(t.switchNs, 'ip', ['-j', 'link', 'show', 'dev', h.switchPort]));
  } catch {
    return undefined;
  }
}

/**
 * Asks the server's BMC (the lab's ipmi_sim) for `mc info` with Debian's
 * ipmitool from the management network, directly, not through the
 * controller: what the customer's console path looks like from outside.
 * Returns the firmware line on success, undefined when it does not answer.
 */
export function bmcAnswers(dir: string, t: LabTopology, h: LabHost): string | undefined {
  try {
    const out = runInNamespace(t.mgmtNs, 'ipmitool', ['-I', 'lanplus', '-H', h.bmc4, '-p', '623', '-U', 'cordon', '-f', join(dir, 'bmc', h.id, 'password'), '-C', '3', '-N', '1', '-R', '2', 'mc', 'info'], 10_000);
    const firmware = /Firmware Revision\s*:\s*(\S+)/.exec(out)?.[1];
    return firmware ? `ipmitool mc info: firmware ${firmware}` : out.includes('Device ID') ? 'ipmitool mc info answered' : undefined;
  } catch {
    return undefined;
  }
}
