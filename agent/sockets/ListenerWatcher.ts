import type { ListeningSocket, ListeningSockets, ManagedSecurity } from '../../proto/gen-messages/cordon/v1/agent.js';
import { asCordonError } from '../../proto/runtime/CordonError.js';
import { runChecked, type CommandRunner } from '../../proto/runtime/CommandRunner.js';
import type { Log } from '../../proto/runtime/Log.js';
import { interfaceAddresses, parseListeners, publicListeners } from './parseListeners.js';

export interface ListenerWatcherDeps {
  runner: CommandRunner;
  log: Log;
  clock: () => Date;
  publicInterfaces: string[];
  /** Hands the list to the link; false when it was dropped (it is sent again after the next Hello). */
  send: (sockets: ListeningSockets) => Promise<boolean>;
}

/** Most sockets one list carries (a host listening on thousands of ports is reported by its first 1,000). */
export const MAX_SOCKETS = 1_000;

/**
 * New-socket monitoring (managed security): every `listenerCheckSeconds`
 * lists the sockets listening on the public interfaces (`ss -H -tulnp` and
 * `ip -j addr show`, through the runner) and sends the whole list when it
 * differs from the last one sent, and after each Hello. The baseline and
 * what is new are the controller's: the agent only tells what is there.
 */
export class ListenerWatcher {
  private timer: NodeJS.Timeout | undefined;
  private seconds = 0;
  private lastSent: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ListenerWatcherDeps) {}

  /** Follows the policy (sent after each Hello): starts, changes or stops the timer, and sends the current list. */
  setPolicy(policy: ManagedSecurity | undefined): Promise<ListeningSocket[] | undefined> {
    const seconds = policy?.enabled ? Math.min(Math.max(policy.listenerCheckSeconds, 0), 3600) : 0;
    if (seconds !== this.seconds) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.seconds = seconds;
      if (seconds > 0) {
        this.timer = setInterval(() => void this.check().catch((err: unknown) => this.deps.log.error({ err: asCordonError(err).message }, 'cannot list the listening sockets')), Math.max(seconds, 5) * 1000);
        this.timer.unref();
      }
    }
    if (seconds === 0) return Promise.resolve(undefined);
    // A new Hello: the controller may have missed the last list.
    this.lastSent = undefined;
    return this.check();
  }

  /** Lists now; sends when the list changed. Returns the public listeners. */
  check(): Promise<ListeningSocket[]> {
    const next = this.queue.then(() => this.checkNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.queue;
  }

  private async checkNow(): Promise<ListeningSocket[]> {
    const ss = await runChecked(this.deps.runner, 'ss', ['-H', '-tulnp']);
    const addrs = interfaceAddresses(await runChecked(this.deps.runner, 'ip', ['-j', 'addr', 'show']), this.deps.publicInterfaces);
    const found = publicListeners(parseListeners(ss), this.deps.publicInterfaces, addrs)
      .map((l) => ({ protocol: l.protocol, address: l.address, port: l.port, process: l.process, pid: l.pid }))
      .sort((a, b) => a.protocol.localeCompare(b.protocol) || a.port - b.port || a.address.localeCompare(b.address) || a.process.localeCompare(b.process));
    // One socket per protocol, address, port and process (SO_REUSEPORT workers list the same one many times).
    const unique = [...new Map(found.map((s) => [`${s.protocol} ${s.address} ${s.port} ${s.process}`, s])).values()].slice(0, MAX_SOCKETS);
    const key = JSON.stringify(unique.map((s) => [s.protocol, s.address, s.port, s.process]));
    if (key !== this.lastSent) {
      const sent = await this.deps.send({ sockets: unique, observedAt: this.deps.clock() }).catch(() => false);
      if (sent) this.lastSent = key;
    }
    return unique;
  }
}
