import { isIP } from 'node:net';
import { parseAddress } from '../proto/runtime/address.js';
import { cidrCovers, parseCidr } from '../proto/runtime/cidr.js';
import type { Log } from '../proto/runtime/Log.js';
import { createDryRunBackends } from './backends/dryRun.js';
import { LinkBackend } from './backends/linkBackend.js';
import { NftBackend } from './backends/nftBackend.js';
import { isLinkListing, sameTurnReads } from './backends/sameTurnReads.js';
import { TcBackend } from './backends/tcBackend.js';
import type { AgentSettings } from './config.js';
import type { HostSettings } from './enforce/computePlan.js';
import { Engine, type HostBackends } from './enforce/Engine.js';
import { ExecRunner, type CommandRunner } from '../proto/runtime/CommandRunner.js';
import { StateFile } from './state/StateFile.js';
import { procSentCounters } from './detect/interfaceCounters.js';
import { Watcher, type WatcherDeps } from './detect/Watcher.js';
import { Guard, type GuardDeps } from './guard/Guard.js';
import { GuardStateFile } from './guard/GuardStateFile.js';
import { ListenerWatcher, type ListenerWatcherDeps } from './sockets/ListenerWatcher.js';

/** The controller's address when it is an IP literal: it must stay reachable like the management networks. */
function controllerIp(settings: AgentSettings): string | undefined {
  const { host } = parseAddress(settings.controller.address);
  return isIP(host) ? host : undefined;
}

export function hostSettings(settings: AgentSettings): HostSettings {
  const ctl = controllerIp(settings);
  const mgmt = settings.managementNetworks.map((c) => parseCidr(c));
  // The controller stays reachable even when it sits outside the listed management networks.
  if (ctl && !mgmt.some((c) => cidrCovers(c, parseCidr(ctl)))) mgmt.push(parseCidr(ctl));
  return { publicInterfaces: settings.interfaces.public, managementNetworks: mgmt, defaultSmtpPorts: settings.smtpPorts };
}

/** Picks the backends in one place: the real Linux ones, or dry-run. */
export function createBackends(settings: AgentSettings, log: Log, runner: CommandRunner = new ExecRunner()): HostBackends {
  if (settings.backend === 'dry-run') return createDryRunBackends(log.child({ component: 'dry-run' }));
  const ctl = controllerIp(settings);
  const onSessionLost = (why: string) => log.warn({ err: why }, 'the nft session failed: nft -f for every enforcement from now on');
  const reads = sameTurnReads(runner, isLinkListing);
  return { nft: new NftBackend(runner, { onSessionLost }), tc: new TcBackend(reads), link: new LinkBackend(reads, ctl ? [ctl] : []) };
}

export function createEngine(settings: AgentSettings, log: Log, runner?: CommandRunner): Engine {
  return new Engine(createBackends(settings, log, runner), hostSettings(settings), new StateFile(settings.stateDir), log.child({ component: 'engine' }));
}

/** The watcher of outbound connections on this host; none with the dry-run backend, which touches nothing. */
/** `readSent` defaults to this process's /proc/net/dev (a test whose runner enters a namespace names that namespace's). */
export function createWatcher(
  settings: AgentSettings,
  log: Log,
  send: WatcherDeps['send'],
  runner: CommandRunner = new ExecRunner(),
  readSent: WatcherDeps['readSent'] = procSentCounters(settings.interfaces.public),
): Watcher | undefined {
  if (settings.backend === 'dry-run') return undefined;
  const host = hostSettings(settings);
  return new Watcher({ runner, log: log.child({ component: 'watch' }), clock: () => new Date(), publicInterfaces: host.publicInterfaces, managementNetworks: host.managementNetworks, send, readSent });
}

/** The brute-force guard of this host (managed security); none with the dry-run backend, which touches nothing. Its bans are kept in the state dir. */
export function createGuard(settings: AgentSettings, log: Log, send: GuardDeps['send'], runner: CommandRunner = new ExecRunner(), opts: Pick<GuardDeps, 'tickMs'> = {}): Guard | undefined {
  if (settings.backend === 'dry-run') return undefined;
  const host = hostSettings(settings);
  return new Guard({ runner, log: log.child({ component: 'guard' }), clock: () => new Date(), publicInterfaces: host.publicInterfaces, managementNetworks: host.managementNetworks, file: new GuardStateFile(settings.stateDir), send, ...opts });
}

/** The new-socket watcher of this host (managed security); none with the dry-run backend. */
export function createListenerWatcher(settings: AgentSettings, log: Log, send: ListenerWatcherDeps['send'], runner: CommandRunner = new ExecRunner()): ListenerWatcher | undefined {
  if (settings.backend === 'dry-run') return undefined;
  return new ListenerWatcher({ runner, log: log.child({ component: 'sockets' }), clock: () => new Date(), publicInterfaces: settings.interfaces.public, send });
}
