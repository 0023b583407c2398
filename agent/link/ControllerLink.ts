import {
  AgentServiceClient,
  type AgentMessage,
  type ControllerMessage,
  type DesiredState,
  type Interface,
  type Report,
  type TamperEvent,
} from '../../proto/gen/cordon/v1/agent.js';
import { CordonError, asCordonError } from '../../proto/runtime/CordonError.js';
import { sleep } from '../../proto/runtime/iterate.js';
import type { Logger } from '../../proto/runtime/logger.js';
import { clientChannel, openBidi, type BidiCall } from '../../proto/runtime/rpcClient.js';
import type { TlsMaterial } from '../../proto/runtime/tls.js';
import { backoffDelay, firstRedialDelay, type BackoffPolicy } from './backoff.js';

/** What the agent holds right now, for Hello and heartbeats. */
export interface HeldState {
  generation: bigint;
  observedDigest: string;
  interfaces: Interface[];
}

export interface ControllerLinkOptions {
  hostId: string;
  agentVersion: string;
  address: string;
  serverName?: string;
  tls: TlsMaterial;
  heartbeatMs: number;
  backoff: BackoffPolicy;
  log: Logger;
  held: () => HeldState;
  /**
   * Called with each desired state the controller sends, one at a time; the
   * report it returns goes back to the controller. The link never waits on
   * enforcement to keep heartbeating.
   */
  onDesiredState: (state: DesiredState) => Promise<Report>;
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

  constructor(private readonly opts: ControllerLinkOptions) {}

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

  private async loop(): Promise<void> {
    const log = this.opts.log;
    while (!this.stopping) {
      let established = false;
      try {
        await this.session();
        log.info('controller ended the stream');
      } catch (err) {
        const e = asCordonError(err);
        this.state.lastError = e.message;
        if (this.stopping) break;
        const level = e.kind === 'permission' || e.kind === 'unauthenticated' || e.kind === 'invalid' ? 'error' : 'warn';
        log[level]({ kind: e.kind, err: e.message }, 'controller link down');
      } finally {
        established = this.state.connected;
        this.state.connected = false;
        this.current = undefined;
      }
      if (this.stopping) break;
      const delay = established ? firstRedialDelay(this.opts.backoff) : backoffDelay(this.state.failedAttempts++, this.opts.backoff);
      log.debug({ delayMs: delay, attempt: this.state.failedAttempts }, 'reconnecting');
      await sleep(delay, this.stopper.signal).catch(() => {});
    }
  }

  /** One stream, from dial to end. A fresh channel each time, so only our backoff applies. */
  private async session(): Promise<void> {
    const { credentials, options } = clientChannel(this.opts.tls, this.opts.serverName || undefined);
    const client = new AgentServiceClient(this.opts.address, credentials, options);
    const call = openBidi<AgentMessage, ControllerMessage>((o) => client.connect(o), { signal: this.stopper.signal });
    this.current = call;
    this.state.sessions++;
    let heartbeat: NodeJS.Timeout | undefined;
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
          },
        },
      });
      heartbeat = setInterval(() => void this.heartbeat(call, 0n), this.opts.heartbeatMs);
      for await (const msg of call.responses) {
        if (!this.state.connected) {
          // The controller answers only an accepted Hello.
          this.state.connected = true;
          this.state.failedAttempts = 0;
          this.state.lastError = undefined;
          this.opts.log.info({ address: this.opts.address }, 'connected to controller');
        }
        if (msg.body?.$case === 'ping') {
          await this.heartbeat(call, msg.body.value.nonce);
        } else if (msg.body?.$case === 'desiredState') {
          const state = msg.body.value;
          // Serialised so states apply in the order sent, without blocking heartbeats.
          this.queue = this.queue.then(async () => {
            const report = await this.opts.onDesiredState(state);
            await call.send({ body: { $case: 'report', value: report } }).catch(() => {});
          });
        }
      }
    } finally {
      clearInterval(heartbeat);
      call.cancel();
      client.close();
    }
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
