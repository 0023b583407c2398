import { AGENT_CONNECT_PATH } from '../../proto/runtime/agentConnectPath.js';
import {
  AgentMessage,
  type BanEvent,
  ControllerMessage,
  type DesiredState,
  type DetectionPolicy,
  type Interface,
  type ListeningSockets,
  type ManagedSecurity,
  type Observation,
  type Report,
  type TamperEvent,
} from '../../proto/gen-messages/cordon/v1/agent.js';
import { CordonError, asCordonError } from '../../proto/runtime/CordonError.js';
import { parseAddress } from '../../proto/runtime/address.js';
import { sleep } from '../../proto/runtime/iterate.js';
import type { Log } from '../../proto/runtime/Log.js';
import { openHttp2Bidi } from '../../proto/runtime/Http2Bidi.js';
import type { BidiCall } from '../../proto/runtime/rpcClient.js';
import type { TlsMaterial } from '../../proto/runtime/tls.js';
import { backoffDelay, firstRedialDelay, type BackoffPolicy } from './backoff.js';
import { ControllerAddresses } from './ControllerAddresses.js';
import { resolveControllers, type DialTarget, type LookupAll } from './resolveControllers.js';

/** How long a dial may wait for its Hello to be accepted: longer than a busy controller's handshake, far shorter than TCP's timeout. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

/**
 * How long a dial whose connection is up (TLS and HTTP/2 established) waits
 * for the controller to accept its Hello. A controller that finished the
 * handshake is there and busy (a fleet reconnecting at once): giving up on it
 * after the connect timeout throws its work away and dials again into the
 * same crowd, which at 10,000 agents meant none ever connected.
 */
export const HELLO_ANSWER_TIMEOUT_MS = 120_000;
/** The keepalive ping's shortest interval (the agent's interval before heartbeats followed the host's state). */
const MIN_KEEPALIVE_MS = 20_000;

/** What the agent holds right now, for Hello and heartbeats. */
export interface HeldState {
  generation: bigint;
  observedDigest: string;
  interfaces: Interface[];
  /** Whether the held desired state has an enforcement in force: heartbeats go at the restricted interval then. */
  restricted?: boolean;
}

export interface ControllerLinkOptions {
  hostId: string;
  agentVersion: string;
  /** One controller (host:port or DNS name:port); the same as `addresses` with one entry. */
  address?: string;
  /**
   * Several controllers: the link starts at a random one and moves to the
   * next when a dial fails or a stream ends (see ControllerAddresses). A DNS
   * name among them stands for every address it resolves to at each dial.
   */
  addresses?: readonly string[];
  /** The name every controller's certificate must carry; empty: each address's own host (for a DNS name, the name). */
  serverName?: string;
  /** A dial whose Hello is not accepted within this long fails, and the next controller is tried. Default 15 s. */
  connectTimeoutMs?: number | undefined;
  /** Once the connection is up, how long the Hello's answer may take in all (default HELLO_ANSWER_TIMEOUT_MS). */
  helloAnswerTimeoutMs?: number | undefined;
  /** Draws the random start in the list (tests inject one). */
  random?: () => number;
  /** Resolves DNS names at each dial (tests inject one); node's dns.lookup, all: true, by default. */
  lookup?: LookupAll;
  tls: TlsMaterial;
  /** Heartbeat interval while the host holds no enforcement. */
  heartbeatMs: number;
  /** Heartbeat interval while it holds one (never longer than heartbeatMs; default heartbeatMs). */
  restrictedHeartbeatMs?: number;
  backoff: BackoffPolicy;
  log: Log;
  held: () => HeldState;
  /**
   * Called with each desired state the controller sends, one at a time; the
   * report it returns goes back to the controller. The link never waits on
   * enforcement to keep heartbeating.
   */
  onDesiredState: (state: DesiredState) => Promise<Report>;
  /** Called with the controller's detection policy, sent after each accepted Hello (the watcher ignores a repeat). */
  onDetectionPolicy?: (policy: DetectionPolicy) => void;
  /** Called with the host's managed-security policy, sent after each accepted Hello and on every change (a lift). */
  onManagedSecurity?: (policy: ManagedSecurity) => void;
  /** Called with the ban events the controller settled (BanEventAck): they leave the guard's outbox. */
  onBanAck?: (seqs: bigint[]) => void;
}

/**
 * What the daemon needs of its link to the controller, whichever way it talks:
 * a held stream (ControllerLink) or periodic polls (PollingLink).
 */
export interface AgentLink {
  start(): void;
  /** Stops talking to the controller; resolves once the last exchange is over. */
  stop(): Promise<void>;
  status(): LinkStatus;
  /** Sends (or, between polls, queues) a tamper event. */
  sendTamper(event: TamperEvent): Promise<void>;
  /** Sends (or, between polls, queues) a report made outside a desired-state exchange. */
  sendReport(report: Report): Promise<void>;
  /** Sends (or, between polls, queues) what the watcher measured over a threshold; dropped while no controller answers. */
  sendObservation(observation: Observation): Promise<void>;
  /** Sends (or, between polls, queues) a ban event; false when it was dropped (no controller, or the poll queue full). */
  sendBan(event: BanEvent): Promise<boolean>;
  /** Sends (or, between polls, keeps the newest) list of listening sockets; false when it was dropped. */
  sendListeners(sockets: ListeningSockets): Promise<boolean>;
}

export interface LinkStatus {
  connected: boolean;
  /** Streams opened since start. */
  sessions: number;
  /** Failed attempts since the last accepted Hello. */
  failedAttempts: number;
  lastError: string | undefined;
}

/**
 * The agent's side of AgentService.Connect: dials, says Hello, heartbeats,
 * hands desired states to the enforcement side, and reconnects with capped,
 * jittered exponential backoff whenever the stream ends. Enforcement never
 * depends on this link: when the controller is away the host keeps what it
 * holds.
 */
export class ControllerLink implements AgentLink {
  private readonly stopper = new AbortController();
  private running: Promise<void> | undefined;
  private current: BidiCall<AgentMessage, ControllerMessage> | undefined;
  private readonly state: LinkStatus = { connected: false, sessions: 0, failedAttempts: 0, lastError: undefined };
  private queue: Promise<void> = Promise.resolve();
  private stopping = false;
  /** The redial spread the controller last told in its pings (admission pacing; 0: none told). */
  private toldSpreadMs = 0;
  private readonly configured: readonly string[];
  private readonly rotation: ControllerAddresses;

  constructor(private readonly opts: ControllerLinkOptions) {
    this.configured = configuredControllers(opts);
    this.rotation = new ControllerAddresses(opts.random);
  }

  status(): LinkStatus {
    return { ...this.state };
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Ends the stream (the controller sees a clean close) and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.current) {
      // Half-close and give the controller a moment to end the stream with OK,
      // so it records a clean disconnect rather than a cancellation.
      this.current.end();
      await Promise.race([this.running, sleep(2_000)]);
    }
    this.stopper.abort(new CordonError('transient', 'agent stopping'));
    await this.running;
    await this.queue;
  }

  /** Sends a tamper event if connected; dropped otherwise (the next Hello carries the digest). */
  async sendTamper(event: TamperEvent): Promise<void> {
    await this.current?.send({ body: { $case: 'tamper', value: event } }).catch(() => {});
  }

  /** Sends a report outside a desired-state exchange (e.g. after drift repair). */
  async sendReport(report: Report): Promise<void> {
    await this.current?.send({ body: { $case: 'report', value: report } }).catch(() => {});
  }

  async sendObservation(observation: Observation): Promise<void> {
    await this.current?.send({ body: { $case: 'observation', value: observation } }).catch(() => {});
  }

  async sendBan(event: BanEvent): Promise<boolean> {
    return this.sendIfConnected({ body: { $case: 'ban', value: event } });
  }

  async sendListeners(sockets: ListeningSockets): Promise<boolean> {
    return this.sendIfConnected({ body: { $case: 'listeners', value: sockets } });
  }

  /** Sends on an accepted stream; false when there is none or the send failed. */
  private async sendIfConnected(message: AgentMessage): Promise<boolean> {
    const call = this.state.connected ? this.current : undefined;
    if (!call) return false;
    return call.send(message).then(
      () => true,
      () => false,
    );
  }

  private async loop(): Promise<void> {
    const log = this.opts.log;
    while (!this.stopping) {
      const targets = await resolveControllers(this.configured, this.opts.serverName || undefined, this.opts.lookup);
      const target = targets[this.rotation.current(targets.length)]!;
      let established = false;
      let failure: CordonError | undefined;
      try {
        await this.session(target);
      } catch (err) {
        failure = asCordonError(err);
        this.state.lastError = failure.message;
      } finally {
        established = this.state.connected;
        this.state.connected = false;
        this.current = undefined;
      }
      if (this.stopping) break;
      const fields = { address: target.label, ...(failure ? { kind: failure.kind, err: failure.message } : {}) };
      let delay: number;
      if (established) {
        // The replica that dropped us is likely going away: the next dial goes to the next one, after the spread.
        this.rotation.ended(targets.length);
        delay = firstRedialDelay(this.opts.backoff, Math.random, this.toldSpreadMs);
        const next = targets.length > 1 ? { next: targets[this.rotation.current(targets.length)]!.label } : {};
        log[failure ? 'warn' : 'info']({ ...fields, ...next, delayMs: delay }, failure ? 'controller link down' : 'controller ended the stream');
      } else {
        this.state.failedAttempts++;
        const round = this.rotation.failed(targets.length);
        const level = failure && (failure.kind === 'permission' || failure.kind === 'unauthenticated' || failure.kind === 'invalid') ? 'error' : 'warn';
        if (round === undefined) {
          // Another controller is left in this round: try it now, no backoff for one dead replica.
          delay = 0;
          log[level]({ ...fields, next: targets[this.rotation.current(targets.length)]!.label }, 'controller unreachable, trying the next one');
        } else {
          delay = backoffDelay(round, this.opts.backoff);
          log[level]({ ...fields, delayMs: delay, round }, targets.length > 1 ? 'no controller reachable, backing off' : 'controller link down');
        }
      }
      await sleep(delay, this.stopper.signal).catch(() => {});
    }
  }

  /** One stream, from dial to end. A fresh connection each time, so only our backoff applies. */
  private async session(target: DialTarget): Promise<void> {
    // A silent controller is noticed within a keepalive and its timeout: every max(20 s, the heartbeat interval).
    const call = openAgentStream(this.opts.tls, target, this.stopper.signal, () => Math.max(MIN_KEEPALIVE_MS, this.heartbeatInterval()));
    this.current = call;
    this.state.sessions++;
    let heartbeat: NodeJS.Timeout | undefined;
    let ended = false;
    // The connection has no deadline of its own: an address that drops packets would hold the dial for the
    // OS's TCP timeout (minutes) before the next controller is tried.
    const connectTimeoutMs = this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    let timedOut = false;
    let waitedMs = connectTimeoutMs;
    const onTimeout = () => {
      // The connection is up: the controller is there, only busy. Its answer gets longer.
      if (waitedMs === connectTimeoutMs && call.connected()) {
        waitedMs = Math.max(connectTimeoutMs, this.opts.helloAnswerTimeoutMs ?? HELLO_ANSWER_TIMEOUT_MS);
        connectTimer = setTimeout(onTimeout, waitedMs - connectTimeoutMs);
        return;
      }
      timedOut = true;
      call.cancel();
    };
    let connectTimer = setTimeout(onTimeout, connectTimeoutMs);
    try {
      const held = this.opts.held();
      await call.send({
        body: {
          $case: 'hello',
          value: {
            hostId: this.opts.hostId,
            agentVersion: this.opts.agentVersion,
            interfaces: held.interfaces,
            generation: held.generation,
            observedDigest: held.observedDigest,
            heartbeatIntervalMs: this.opts.heartbeatMs,
            restrictedHeartbeatIntervalMs: this.restrictedMs(),
          },
        },
      });
      // Rescheduled from each beat at the interval the held state calls for, and at once when a desired state changes it.
      let beatEvery = this.heartbeatInterval();
      const beat = () => {
        // A desired state applied after the stream ended must not start beating on it again.
        if (ended) return;
        beatEvery = this.heartbeatInterval();
        heartbeat = setTimeout(() => {
          void this.heartbeat(call, 0n);
          beat();
        }, beatEvery);
      };
      beat();
      for await (const msg of call.responses) {
        if (!this.state.connected) {
          // The controller answers only an accepted Hello.
          clearTimeout(connectTimer);
          this.state.connected = true;
          this.state.failedAttempts = 0;
          this.state.lastError = undefined;
          this.rotation.connected();
          this.opts.log.info({ address: target.label }, 'connected to controller');
        }
        if (msg.body?.$case === 'ping') {
          this.toldSpreadMs = msg.body.value.reconnectSpreadMs;
          await this.heartbeat(call, msg.body.value.nonce);
        } else if (msg.body?.$case === 'detection') {
          this.opts.onDetectionPolicy?.(msg.body.value);
        } else if (msg.body?.$case === 'managedSecurity') {
          this.opts.onManagedSecurity?.(msg.body.value);
        } else if (msg.body?.$case === 'banAck') {
          this.opts.onBanAck?.(msg.body.value.seqs);
        } else if (msg.body?.$case === 'desiredState') {
          const state = msg.body.value;
          // Serialised so states apply in the order sent, without blocking heartbeats.
          this.queue = this.queue.then(async () => {
            const report = await this.opts.onDesiredState(state);
            await call.send({ body: { $case: 'report', value: report } }).catch(() => {});
            // The report counts as heard; the next beat follows at the new interval.
            if (this.heartbeatInterval() !== beatEvery) {
              clearTimeout(heartbeat);
              beat();
            }
          });
        }
      }
      if (timedOut) throw new CordonError('transient', `no answer to the Hello within ${waitedMs} ms`);
    } catch (err) {
      if (timedOut) throw new CordonError('transient', `no answer to the Hello within ${waitedMs} ms`, { cause: err });
      throw err;
    } finally {
      ended = true;
      clearTimeout(connectTimer);
      clearTimeout(heartbeat);
      call.cancel();
    }
  }

  private restrictedMs(): number {
    return Math.min(this.opts.restrictedHeartbeatMs ?? this.opts.heartbeatMs, this.opts.heartbeatMs);
  }

  /** The interval the held state calls for now. */
  private heartbeatInterval(): number {
    return this.opts.held().restricted ? this.restrictedMs() : this.opts.heartbeatMs;
  }

  private async heartbeat(call: BidiCall<AgentMessage, ControllerMessage>, pingNonce: bigint): Promise<void> {
    const held = this.opts.held();
    await call
      .send({
        body: {
          $case: 'heartbeat',
          value: { sentAt: new Date(), generation: held.generation, observedDigest: held.observedDigest, pingNonce },
        },
      })
      .catch(() => {});
  }
}

/** The configured controller list of a link's options: `addresses`, else the one `address`. */
export function configuredControllers(opts: Pick<ControllerLinkOptions, 'address' | 'addresses'>): readonly string[] {
  const list = opts.addresses && opts.addresses.length > 0 ? opts.addresses : opts.address ? [opts.address] : [];
  if (list.length === 0) throw new CordonError('invalid', 'no controller address', { field: 'controller.address' });
  for (const a of list) {
    try {
      parseAddress(a);
    } catch (err) {
      throw new CordonError('invalid', `controller address: ${(err as Error).message}`, { field: 'controller.addresses' });
    }
  }
  return list;
}


/**
 * The agent's Connect stream over node's own HTTP/2 (Http2Bidi), not grpc-js:
 * the same bytes on the wire, about 3 MiB less of the agent's memory.
 * Keepalive: a ping every 20 s (or as `keepaliveMs` says), 10 s for its answer.
 */
export function openAgentStream(tls: TlsMaterial, target: DialTarget, signal: AbortSignal, keepaliveMs?: () => number) {
  return openHttp2Bidi<AgentMessage, ControllerMessage>({
    ...(keepaliveMs ? { keepaliveMs } : {}),
    address: target.address,
    tls,
    serverName: target.serverName,
    path: AGENT_CONNECT_PATH,
    serialize: (m) => AgentMessage.encode(m).finish(),
    deserialize: (b) => ControllerMessage.decode(b),
    signal,
  });
}
