import { DesiredState, type BanEvent, type ListeningSockets, type Observation } from '../proto/gen-messages/cordon/v1/agent.js';
import { asCordonError } from '../proto/runtime/CordonError.js';
import type { Log } from '../proto/runtime/Log.js';
import type { TlsMaterial } from '../proto/runtime/tls.js';
import { cordonVersion } from '../proto/runtime/version.js';
import type { AgentSettings } from './config.js';
import type { Engine } from './enforce/Engine.js';
import { parseDesired } from './enforce/parseDesired.js';
import type { Watcher } from './detect/Watcher.js';
import type { Guard } from './guard/Guard.js';
import type { ListenerWatcher } from './sockets/ListenerWatcher.js';
import { describeInterfaces } from './hostInterfaces.js';
import { ControllerLink, type AgentLink, type ControllerLinkOptions } from './link/ControllerLink.js';
import { PollingLink } from './link/PollingLink.js';
import { refusalReport, reportOf } from './reportOf.js';

export interface RunningAgent {
  link: AgentLink;
  stop(): Promise<void>;
}

/**
 * The agent daemon: re-applies the saved state before it even dials the
 * controller, then converges to every desired state the controller sends and
 * repairs drift on a timer. The controller link never gates enforcement.
 * The link holds one stream open (push), or with `controller.pollSeconds`
 * polls the controller on that interval (PollingLink).
 */
export async function runDaemon(
  settings: AgentSettings,
  tls: TlsMaterial,
  engine: Engine,
  log: Log,
  /**
   * Makes the watcher of outbound connections (detect/Watcher.ts), given how
   * to send an observation; without it the agent counts nothing, whatever
   * the controller's policy says (tests that aim the engine at a namespace
   * pass one aimed there too).
   */
  opts: {
    createWatcher?: (send: (o: Observation) => Promise<void>) => Watcher | undefined;
    /** Makes the brute-force guard (guard/Guard.ts), given how to send a ban event; without it the agent bans nothing. */
    createGuard?: (send: (e: BanEvent) => Promise<boolean>) => Guard | undefined;
    /** Makes the new-socket watcher (sockets/ListenerWatcher.ts); without it the agent lists no sockets. */
    createListenerWatcher?: (send: (s: ListeningSockets) => Promise<boolean>) => ListenerWatcher | undefined;
  } = {},
): Promise<RunningAgent> {
  let digest = '';
  try {
    const restored = await engine.restore();
    if (restored) {
      digest = restored.digest;
      log.info({ generation: restored.generation.toString() }, 'saved state re-applied at start');
    }
  } catch (err) {
    // A corrupt state file leaves the host as it is: better to keep old rules
    // than to drop them. The controller's next state replaces it.
    log.error({ err: asCordonError(err).message }, 'cannot re-apply the saved state');
  }

  // The watcher and the guard send through the link, which is made below with their policy callbacks.
  let link: AgentLink | undefined;
  const watcher = opts.createWatcher?.((o) => link?.sendObservation(o) ?? Promise.resolve());
  const guard = opts.createGuard?.((e) => link?.sendBan(e) ?? Promise.resolve(false));
  const listeners = opts.createListenerWatcher?.((s) => link?.sendListeners(s) ?? Promise.resolve(false));
  if (guard) {
    // Before the controller is dialled: after a reboot the bans are back before anyone can try again.
    try {
      const restored = await guard.restore();
      if (restored > 0) log.info({ bans: restored }, 'brute-force bans restored at start');
    } catch (err) {
      log.error({ err: asCordonError(err).message }, 'cannot restore the brute-force bans');
    }
  }

  const linkOptions: ControllerLinkOptions = {
    hostId: settings.hostId,
    agentVersion: cordonVersion(),
    // A list replaces the one address when given (the config refuses both).
    addresses: settings.controller.addresses?.length ? settings.controller.addresses : [settings.controller.address],
    serverName: settings.controller.serverName,
    tls,
    heartbeatMs: settings.heartbeatSeconds * 1000,
    restrictedHeartbeatMs: (settings.restrictedHeartbeatSeconds ?? settings.heartbeatSeconds) * 1000,
    backoff: settings.reconnect,
    connectTimeoutMs: settings.reconnect.connectTimeoutMs,
    log: log.child({ component: 'link' }),
    held: () => ({ generation: engine.generation(), observedDigest: digest, interfaces: describeInterfaces(settings.interfaces), restricted: (engine.held()?.enforcements.length ?? 0) > 0 }),
    onDetectionPolicy: (policy) => {
      watcher?.setPolicy(policy).catch((err: unknown) => log.error({ err: asCordonError(err).message }, 'cannot set up the watch table'));
    },
    onManagedSecurity: (policy) => {
      guard?.setPolicy(policy).catch((err: unknown) => log.error({ err: asCordonError(err).message }, 'cannot set up the guard table'));
      listeners?.setPolicy(policy).catch((err: unknown) => log.error({ err: asCordonError(err).message }, 'cannot list the listening sockets'));
    },
    onBanAck: (seqs) => {
      guard?.acknowledge(seqs).catch((err: unknown) => log.error({ err: asCordonError(err).message }, 'cannot take a ban acknowledgement'));
    },
    onDesiredState: async (message) => {
      try {
        const result = await engine.converge(parseDesired(DesiredState.toJSON(message)));
        digest = result.digest;
        return reportOf(result);
      } catch (err) {
        const e = asCordonError(err);
        log.error({ kind: e.kind, err: e.message, generation: message.generation.toString() }, 'desired state refused');
        return refusalReport(engine.generation(), digest, e.message);
      }
    },
  };
  // Settings built in code (tests, benches) may predate the key: absent means push.
  const pollMs = (settings.controller.pollSeconds ?? 0) * 1000;
  link = pollMs > 0 ? new PollingLink({ ...linkOptions, pollMs }) : new ControllerLink(linkOptions);
  if (pollMs > 0) log.info({ pollSeconds: settings.controller.pollSeconds }, 'poll mode: the controller is polled, not held open');
  link.start();

  const drift = setInterval(() => {
    engine
      .checkDrift()
      .then(async (tamper) => {
        if (!tamper) return;
        const status = await engine.status();
        digest = status.digest;
        await link.sendTamper({ detectedAt: new Date(), found: tamper.found, restored: tamper.restored, generation: engine.generation() });
        await link.sendReport(reportOf(status));
      })
      .catch((err: unknown) => log.error({ err: asCordonError(err).message }, 'drift check failed'));
  }, settings.driftCheckSeconds * 1000);

  const running = link;
  return {
    link: running,
    async stop() {
      clearInterval(drift);
      await watcher?.stop();
      await guard?.stop();
      await listeners?.stop();
      await running.stop();
      engine.close();
    },
  };
}
