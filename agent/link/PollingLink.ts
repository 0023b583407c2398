import {
  type AgentMessage,
  type BanEvent,
  type ControllerMessage,
  type ListeningSockets,
  type DesiredState,
  type Report,
  type Observation,
  type TamperEvent,
} from '../../proto/gen-messages/cordon/v1/agent.js';
import { CordonError, asCordonError } from '../../proto/runtime/CordonError.js';
import { sleep } from '../../proto/runtime/iterate.js';
import { configuredControllers, openAgentStream, type AgentLink, type ControllerLinkOptions, type LinkStatus } from './ControllerLink.js';
import { ControllerAddresses } from './ControllerAddresses.js';
import { resolveControllers, type DialTarget } from './resolveControllers.js';

export interface PollingLinkOptions extends ControllerLinkOptions {
  /** Time from the start of one poll to the start of the next. */
  pollMs: number;
  /**
   * After the controller accepts the Hello it sends the host's desired state
   * at once, or nothing when the host has never had one. This long without a
   * state means "nothing"; the poll then ends. Default 2 s.
   */
  settleMs?: number;
  /** A poll still running after this long is abandoned (the next one starts on time). Default: pollMs, at least 10 s. */
  pollTimeoutMs?: number;
}

/** Tamper events kept between polls; older ones are dropped (the report's digest still tells). */
const MAX_QUEUED_TAMPERS = 32;
/** Observations kept between polls: the newest, one window's worth of each kind several times over. */
const MAX_QUEUED_OBSERVATIONS = 16;
/** Ban events kept between polls; past it a ban event is refused (it waits in the guard's outbox for a later poll). */
const MAX_QUEUED_BANS = 256;
/** How long a finished poll waits for the controller to close the stream, so it records a clean disconnect. */
const CLOSE_GRACE_MS = 2_000;

type Next = IteratorResult<ControllerMessage>;

/**
 * The agent's link in poll mode (`controller.pollSeconds` > 0), the way
 * CrowdSec's firewall bouncer pulls its decisions: every `pollMs` it opens a
 * Connect stream, says Hello, takes the desired state the controller sends
 * after accepting it, converges, reports, sends what it queued meanwhile
 * (tamper events, a drift report), and closes. Between polls the controller
 * shows the agent as disconnected; a decision waits for the next poll, on
 * average half an interval. Polls keep a fixed cadence from the start of the
 * first. With several controllers a poll sticks to the one that last
 * answered; a failed poll tries the next one at once, and only when every
 * controller of the list failed in a row does it wait for the next tick.
 */
export class PollingLink implements AgentLink {
  private readonly stopper = new AbortController();
  private running: Promise<void> | undefined;
  private readonly state: LinkStatus = { connected: false, sessions: 0, failedAttempts: 0, lastError: undefined };
  private queue: Promise<unknown> = Promise.resolve();
  private tampers: TamperEvent[] = [];
  private observations: Observation[] = [];
  private bans: BanEvent[] = [];
  private listeners: ListeningSockets | undefined;
  private pendingReport: Report | undefined;
  private stopping = false;
  private readonly configured: readonly string[];
  private readonly rotation: ControllerAddresses;
  private polling: string | undefined;

  constructor(private readonly opts: PollingLinkOptions) {
    this.configured = configuredControllers(opts);
    this.rotation = new ControllerAddresses(opts.random);
  }

  status(): LinkStatus {
    return { ...this.state };
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Lets a poll in progress finish (up to 2 s), then stops polling. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopper.abort(new CordonError('transient', 'agent stopping'));
    await this.running;
    await this.queue;
  }

  /** Queued for the next poll (a poll in progress has already sent its messages). */
  async sendTamper(event: TamperEvent): Promise<void> {
    this.tampers.push(event);
    if (this.tampers.length > MAX_QUEUED_TAMPERS) this.tampers.splice(0, this.tampers.length - MAX_QUEUED_TAMPERS);
  }

  /** Queued for the next poll, the newest MAX_QUEUED_OBSERVATIONS kept. */
  async sendObservation(observation: Observation): Promise<void> {
    this.observations.push(observation);
    if (this.observations.length > MAX_QUEUED_OBSERVATIONS) this.observations.splice(0, this.observations.length - MAX_QUEUED_OBSERVATIONS);
  }

  /** Queued for the next poll; refused (false) when MAX_QUEUED_BANS wait already. */
  async sendBan(event: BanEvent): Promise<boolean> {
    if (this.bans.length >= MAX_QUEUED_BANS) return false;
    this.bans.push(event);
    return true;
  }

  /** Kept for the next poll; a newer list replaces it. */
  async sendListeners(sockets: ListeningSockets): Promise<boolean> {
    this.listeners = sockets;
    return true;
  }

  /** Kept for the next poll; a newer report replaces it. */
  async sendReport(report: Report): Promise<void> {
    this.pendingReport = report;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const started = performance.now();
      await this.pollOnce();
      if (this.stopping) break;
      const wait = Math.max(0, this.opts.pollMs - (performance.now() - started));
      await sleep(wait, this.stopper.signal).catch(() => {});
    }
  }

  /** One tick: polls the current controller, and the next ones while they fail, at most one full round of the list. */
  private async pollOnce(): Promise<void> {
    const log = this.opts.log;
    for (;;) {
      const targets = await resolveControllers(this.configured, this.opts.serverName || undefined, this.opts.lookup);
      const target = targets[this.rotation.current(targets.length)]!;
      try {
        await this.poll(target);
        this.rotation.connected();
        // Once per change, not once per poll: which controller this agent polls now.
        if (this.polling !== target.label) log.info({ address: target.label, ...(this.polling ? { previous: this.polling } : {}) }, 'polling controller');
        this.polling = target.label;
        this.state.failedAttempts = 0;
        this.state.lastError = undefined;
        return;
      } catch (err) {
        const e = asCordonError(err);
        if (this.stopping) return;
        this.state.failedAttempts++;
        this.state.lastError = e.message;
        const level = e.kind === 'permission' || e.kind === 'unauthenticated' || e.kind === 'invalid' ? 'error' : 'warn';
        // A full round failed: the next tick tries again (the poll interval is this link's backoff).
        if (this.rotation.failed(targets.length) !== undefined) {
          log[level]({ address: target.label, kind: e.kind, err: e.message }, 'poll failed');
          return;
        }
        log[level]({ address: target.label, kind: e.kind, err: e.message, next: targets[this.rotation.current(targets.length)]!.label }, 'poll failed, trying the next controller');
      } finally {
        this.state.connected = false;
      }
    }
  }

  /** One poll: dial, Hello, take the state (if any), converge, report, close. */
  private async poll(target: DialTarget): Promise<void> {
    const timeoutMs = this.opts.pollTimeoutMs ?? Math.max(this.opts.pollMs, 10_000);
    const aborter = new AbortController();
    const onStop = () => aborter.abort(this.stopper.signal.reason);
    this.stopper.signal.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => aborter.abort(new CordonError('transient', `poll took longer than ${timeoutMs} ms`)), timeoutMs);
    const call = openAgentStream(this.opts.tls, target, aborter.signal);
    this.state.sessions++;
    const responses = call.responses[Symbol.asyncIterator]();
    // One read outstanding at a time: a read that lost a race with a timer is kept for the next wait.
    let pending: Promise<Next> | undefined;
    const next = (withinMs: number): Promise<Next | 'timeout'> => {
      pending ??= responses.next();
      const read = pending;
      let t: NodeJS.Timeout | undefined;
      return Promise.race([
        read.then((r) => {
          pending = undefined;
          return r;
        }),
        new Promise<'timeout'>((resolve) => (t = setTimeout(() => resolve('timeout'), withinMs))),
      ]).finally(() => clearTimeout(t));
    };
    const send = (body: AgentMessage['body']) => call.send({ body });
    const heartbeat = (pingNonce: bigint) => {
      const held = this.opts.held();
      return send({ $case: 'heartbeat', value: { sentAt: new Date(), generation: held.generation, observedDigest: held.observedDigest, pingNonce } });
    };
    try {
      const held = this.opts.held();
      await send({
        $case: 'hello',
        value: {
          hostId: this.opts.hostId,
          agentVersion: this.opts.agentVersion,
          interfaces: held.interfaces,
          generation: held.generation,
          observedDigest: held.observedDigest,
          heartbeatIntervalMs: this.opts.heartbeatMs,
          restrictedHeartbeatIntervalMs: 0,
        },
      });
      let state: DesiredState | undefined;
      let accepted = false;
      const settleMs = this.opts.settleMs ?? 2_000;
      let settleBy = Number.POSITIVE_INFINITY;
      while (state === undefined) {
        // Before acceptance the whole poll timeout applies (aborting the call ends the read).
        const r = await next(accepted ? settleBy - performance.now() : timeoutMs);
        if (r === 'timeout') {
          if (!accepted) throw new CordonError('transient', 'no answer to the Hello');
          break;
        }
        if (r.done) throw new CordonError('transient', 'the controller ended the stream during the poll');
        const body = r.value.body;
        if (!accepted) {
          // The controller answers only an accepted Hello, with a ping first.
          accepted = true;
          this.state.connected = true;
          settleBy = performance.now() + settleMs;
          this.opts.log.debug({ address: target.label }, 'poll accepted');
          for (const value of this.tampers.splice(0)) await send({ $case: 'tamper', value });
          for (const value of this.observations.splice(0)) await send({ $case: 'observation', value });
          for (const value of this.bans.splice(0)) await send({ $case: 'ban', value });
          if (this.listeners) await send({ $case: 'listeners', value: this.listeners });
          this.listeners = undefined;
        }
        if (body?.$case === 'ping') await heartbeat(body.value.nonce);
        else if (body?.$case === 'detection') this.opts.onDetectionPolicy?.(body.value);
        else if (body?.$case === 'managedSecurity') this.opts.onManagedSecurity?.(body.value);
        else if (body?.$case === 'banAck') this.opts.onBanAck?.(body.value.seqs);
        else if (body?.$case === 'desiredState') state = body.value;
      }
      let report: Report | undefined;
      if (state) {
        const s = state;
        // Serialised with any converge a timed-out earlier poll left running.
        const applied = this.queue.then(() => this.opts.onDesiredState(s));
        this.queue = applied.catch(() => {});
        report = await applied;
      } else {
        report = this.pendingReport;
      }
      this.pendingReport = undefined;
      if (report) await send({ $case: 'report', value: report });
      // Half-close and let the controller end the stream with OK: a clean disconnect.
      call.end();
      const deadline = performance.now() + CLOSE_GRACE_MS;
      try {
        for (;;) {
          const r = await next(deadline - performance.now());
          if (r === 'timeout' || r.done) break;
        }
      } catch {
        // The report is out; how the controller ends the stream changes nothing here.
      }
    } finally {
      pending?.catch(() => {});
      clearTimeout(timer);
      this.stopper.signal.removeEventListener('abort', onStop);
      call.cancel();
    }
  }
}
