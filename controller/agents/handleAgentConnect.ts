import { randomInt } from 'node:crypto';
import { ManagedSecurity, type AgentMessage, type ControllerMessage, type DetectionPolicy, type Heartbeat, type Hello, type Observation, type Report, type TamperEvent } from '../../proto/gen/cordon/v1/agent.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { untilAborted } from '../../proto/runtime/iterate.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { BidiStream, CallContext } from '../../proto/runtime/rpcServer.js';
import type { Inventory } from '../inventory/Inventory.js';
import { BanReceiver } from '../security/BanReceiver.js';
import type { ManagedSecuritySource } from '../security/ManagedSecurityPolicies.js';
import type { DesiredStateSource } from './DesiredStates.js';
import type { PingWheel } from './PingWheel.js';
import type { SessionRegistry } from './SessionRegistry.js';

export interface AgentLinkDeps {
  log: Logger;
  clock: () => Date;
  inventory: Inventory;
  sessions: SessionRegistry;
  desired: DesiredStateSource;
  pingIntervalMs: number;
  /** Pings the streams of the whole fleet together once per interval (PingWheel.ts); without it each stream keeps its own timer. */
  pings?: PingWheel;
  helloTimeoutMs: number;
  /**
   * The longest heartbeat interval an agent may ask for in its Hello. A
   * longer one is clamped to this: staleness is computed from
   * min(asked, max), so an agent cannot keep itself from ever going stale.
   */
  maxHeartbeatMs: number;
  /**
   * The same while the host's desired state holds an enforcement: the
   * agent's silence then hands the cut to the switch, so it is held to this
   * whatever it asked (default: maxHeartbeatMs, for callers built before).
   */
  maxRestrictedHeartbeatMs?: number;
  /**
   * Why the peer's certificate is no longer acceptable (a revoked serial),
   * or undefined; asked before every message is taken, so nothing a revoked
   * peer sends after its revocation is recorded.
   */
  refused?: (certificateSerial: string) => string | undefined;
  /** Called with every report an agent sends (dispatch tracking). */
  onReport?: (hostId: string, report: Report) => void;
  /** Called with every tamper event. */
  onTamper?: (hostId: string, event: TamperEvent) => void;
  /**
   * How long the fleet should take to come back should this controller go
   * away (admission pacing, told in every ping; agents redial after a
   * uniform draw up to it). Absent: 0, the agents' own spread.
   */
  reconnectSpreadMs?: () => number;
  /** What the agent of a host watches for on it (its effective policy); sent after each accepted Hello, before the desired state. */
  detection?: (hostId: string) => DetectionPolicy;
  /** Called with what an agent measured over a threshold on its own host (the certificate's host). */
  onObservation?: (hostId: string, observation: Observation) => Promise<unknown>;
  /** Managed security (brute-force bans): its policy is sent after the detection policy and on every change; the agent's ban events go to it. */
  managedSecurity?: ManagedSecuritySource;
}

/** How a stream's handler ends it early, and knows it has ended. */
function endOf(ctx: CallContext): { signal: AbortSignal; abort: (reason: unknown) => void; release: () => void } {
  if (ctx.abort) return { signal: ctx.signal, abort: ctx.abort, release: () => undefined };
  const own = new AbortController();
  const follow = () => own.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', follow, { once: true });
  return { signal: own.signal, abort: (reason) => own.abort(reason), release: () => ctx.signal.removeEventListener('abort', follow) };
}

function everyInterval(fn: () => void, ms: number): () => void {
  const timer = setInterval(fn, ms);
  return () => clearInterval(timer);
}

/** Heartbeats faster than this would let one agent flood the controller. */
const MIN_HEARTBEAT_MS = 1_000;
const DEFAULT_HEARTBEAT_MS = 10_000;

/** The interval the controller holds an agent to: what it asked for, within [1 s, max]. */
export function heartbeatIntervalFor(askedMs: number, maxMs: number): number {
  return Math.min(Math.max(askedMs || DEFAULT_HEARTBEAT_MS, MIN_HEARTBEAT_MS), Math.max(maxMs, MIN_HEARTBEAT_MS));
}

async function firstMessage(
  requests: AsyncIterator<AgentMessage>,
  timeoutMs: number,
): Promise<AgentMessage> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CordonError('invalid', `no Hello within ${timeoutMs} ms`, { field: 'hello' })),
      timeoutMs,
    );
  });
  try {
    const next = await Promise.race([requests.next(), timeout]);
    if (next.done) throw new CordonError('invalid', 'the stream ended before a Hello', { field: 'hello' });
    return next.value;
  } finally {
    clearTimeout(timer);
  }
}

function checkHello(msg: AgentMessage, certHostId: string, inventory: Inventory): Hello {
  if (msg.body?.$case !== 'hello') {
    throw new CordonError('invalid', `the first message must be a Hello, got ${msg.body?.$case ?? 'an empty message'}`, {
      field: 'hello',
    });
  }
  const hello = msg.body.value;
  if (hello.hostId !== certHostId) {
    throw new CordonError(
      'permission',
      `Hello names host ${JSON.stringify(hello.hostId)} but the certificate was issued to ${JSON.stringify(certHostId)}`,
    );
  }
  if (!inventory.get(certHostId)) {
    throw new CordonError('permission', `host ${certHostId} is not in the inventory`);
  }
  return hello;
}

/**
 * Serves one agent's Connect stream: authenticates the Hello against the
 * certificate and the inventory, registers the session, pushes the host's
 * desired state now and on every change, pings, and records heartbeats,
 * reports and tamper events until the stream ends.
 */
export async function handleAgentConnect(
  stream: BidiStream<AgentMessage, ControllerMessage>,
  ctx: CallContext,
  deps: AgentLinkDeps,
): Promise<void> {
  if (ctx.peer.kind !== 'agent') {
    throw new CordonError('permission', 'only agent certificates may open an agent stream');
  }
  const certHostId = ctx.peer.hostId;
  const requests = stream.requests[Symbol.asyncIterator]();
  const hello = checkHello(await firstMessage(requests, deps.helloTimeoutMs), certHostId, deps.inventory);
  // A child logger is a few hundred bytes kept for the stream's life: made when this stream first logs
  // more than its connection (10,000 idle agents never do).
  let hostLog: Logger | undefined;
  const log = () => (hostLog ??= deps.log.child({ host: certHostId }));

  // Superseding or a failed send ends this session through `ended`: the call's own signal where the
  // transport lets the handler abort it, else a controller of its own that follows the call's.
  const ended = endOf(ctx);

  const heartbeatIntervalMs = heartbeatIntervalFor(hello.heartbeatIntervalMs, deps.maxHeartbeatMs);
  if (hello.heartbeatIntervalMs > heartbeatIntervalMs) {
    log().warn(
      { askedMs: hello.heartbeatIntervalMs, heldToMs: heartbeatIntervalMs },
      'agent asks for a heartbeat interval above agents.maxHeartbeatSeconds: staleness counts from the cap',
    );
  }
  // An older agent says nothing of a restricted interval: it beats at its one interval, capped like the rest
  // (and never counted slower than when it is not restricted: SessionRegistry).
  const restrictedHeartbeatIntervalMs = heartbeatIntervalFor(hello.restrictedHeartbeatIntervalMs || hello.heartbeatIntervalMs, deps.maxRestrictedHeartbeatMs ?? deps.maxHeartbeatMs);
  const token = deps.sessions.open({
    hostId: certHostId,
    agentVersion: hello.agentVersion,
    generationHeld: hello.generation,
    observedDigest: hello.observedDigest,
    peerAddress: ctx.peerAddress,
    interfaces: hello.interfaces,
    heartbeatIntervalMs,
    restrictedHeartbeatIntervalMs,
    certificateSerial: ctx.peer.serial,
    close: (why) => ended.abort(why),
  });
  deps.log.info(
    { host: certHostId, agentVersion: hello.agentVersion, generation: hello.generation.toString(), peer: ctx.peerAddress },
    'agent connected',
  );

  const send = (message: ControllerMessage) => {
    stream.send(message).catch((err: unknown) => ended.abort(err));
  };
  // Only the newest ping is worth a round-trip figure.
  let pingNonce = 0n;
  let pingSentAt = 0;
  const ping = () => {
    const nonce = BigInt(randomInt(1, 2 ** 47));
    pingNonce = nonce;
    pingSentAt = performance.now();
    send({ body: { $case: 'ping', value: { nonce, sentAt: deps.clock(), reconnectSpreadMs: deps.reconnectSpreadMs?.() ?? 0 } } });
  };
  // The first ping tells the agent its Hello was accepted.
  ping();
  if (deps.detection) send({ body: { $case: 'detection', value: deps.detection(certHostId) } });
  // A host that does not take managed security (or no longer does, or a controller with none configured) is
  // told so: its agent keeps the last policy it was sent across restarts, and would otherwise go on banning.
  // Off says too that this controller acknowledges ban events (BanReceiver): the removals of a guard turned off are reported.
  const security = (deps.managedSecurity ? await deps.managedSecurity.policyFor(certHostId) : undefined) ?? ManagedSecurity.fromPartial({ enabled: false, acknowledgesBanEvents: true });
  send({ body: { $case: 'managedSecurity', value: security } });
  const unsubscribeSecurity = deps.managedSecurity?.subscribe(certHostId, (policy) => send({ body: { $case: 'managedSecurity', value: policy } }));
  // Made at the first ban event: most streams never carry one, and ten thousand of them idle here.
  let bans: BanReceiver | undefined;
  const banReceiver = () =>
    (bans ??= new BanReceiver(
      (event) => deps.managedSecurity?.onBan(certHostId, event) ?? Promise.resolve('not_covered' as const),
      (seq) => send({ body: { $case: 'banAck', value: { seqs: [seq] } } }),
      log(),
    ));
  const current = await deps.desired.get(certHostId);
  // From the moment a restriction is decided its agent's silence counts at the restricted interval, before any beat says so.
  deps.sessions.restricted(certHostId, token, (current?.enforcements.length ?? 0) > 0);
  if (current) send({ body: { $case: 'desiredState', value: current } });
  const unsubscribe = deps.desired.subscribe(certHostId, (state) => {
    deps.sessions.restricted(certHostId, token, state.enforcements.length > 0);
    send({ body: { $case: 'desiredState', value: state } });
  });
  const stopPinging = deps.pings ? deps.pings.add(ping) : everyInterval(ping, deps.pingIntervalMs);

  const onHeartbeat = (hb: Heartbeat) => {
    const sentAt = hb.pingNonce && hb.pingNonce === pingNonce ? pingSentAt : undefined;
    if (sentAt !== undefined) pingNonce = 0n;
    deps.sessions.heartbeat(certHostId, token, {
      generationHeld: hb.generation,
      observedDigest: hb.observedDigest,
      ...(sentAt !== undefined ? { rttMs: Math.round(performance.now() - sentAt) } : {}),
    });
  };
  // Heartbeats, most of what an agent sends, are taken as they arrive where the transport offers it
  // (BidiStream.intercept); anything else, or a heartbeat from a certificate revoked meanwhile, goes to the loop below.
  stream.intercept?.((msg) => {
    if (msg.body?.$case !== 'heartbeat' || ended.signal.aborted || deps.refused?.(ctx.peer.serial)) return false;
    onHeartbeat(msg.body.value);
    return true;
  });

  let endReason = 'closed by the agent';
  try {
    // Go on with the iterator that produced the Hello: asking the stream for a
    // second iterator is not supported by Node's Readable.
    const rest: AsyncIterable<AgentMessage> = { [Symbol.asyncIterator]: () => requests };
    for await (const msg of untilAborted(rest, ended.signal)) {
      // Revoked while connected: take nothing more from this peer.
      const refusal = deps.refused?.(ctx.peer.serial);
      if (refusal) throw new CordonError('permission', refusal);
      switch (msg.body?.$case) {
        case 'heartbeat':
          onHeartbeat(msg.body.value);
          break;
        case 'report': {
          const r = msg.body.value;
          deps.sessions.report(certHostId, token, { generationHeld: r.appliedGeneration, observedDigest: r.observedDigest, driftRepairs: r.driftRepairs });
          log().info(
            {
              generation: r.appliedGeneration.toString(),
              results: r.results.map((x) => ({ id: x.enforcementId, status: x.status, error: x.error || undefined })),
              error: r.error || undefined,
            },
            'agent report',
          );
          deps.onReport?.(certHostId, r);
          break;
        }
        case 'tamper':
          log().warn({ found: msg.body.value.found, restored: msg.body.value.restored }, 'agent reports tampering');
          deps.onTamper?.(certHostId, msg.body.value);
          break;
        case 'observation':
          // Not awaited: filing a complaint must not hold up this agent's heartbeats and reports.
          deps.onObservation?.(certHostId, msg.body.value).catch((err: unknown) => log().error({ err: (err as Error).message }, 'cannot file an observation'));
          break;
        case 'ban':
          // Not awaited, like observations: recorded in order and acknowledged by BanReceiver; a malformed event is logged without ending the stream.
          banReceiver().take(msg.body.value);
          break;
        case 'listeners':
          deps.managedSecurity?.onListeners(certHostId, msg.body.value).catch((err: unknown) => log().warn({ err: (err as Error).message }, 'listening sockets not recorded'));
          break;
        case 'hello':
          throw new CordonError('invalid', 'a second Hello on the same stream', { field: 'hello' });
        default:
          throw new CordonError('invalid', 'an agent message with no body', { field: 'body' });
      }
    }
    deps.log.info({ host: certHostId }, 'agent disconnected');
  } catch (err) {
    endReason = (err as Error).message;
    deps.log.info({ host: certHostId, reason: endReason }, 'agent stream ended');
    throw err;
  } finally {
    stream.intercept?.(() => false);
    stopPinging();
    unsubscribe();
    unsubscribeSecurity?.();
    ended.release();
    deps.sessions.closed(certHostId, token, endReason);
  }
}
