import { constants, createServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { AgentMessage, ControllerMessage } from '../../proto/gen/cordon/v1/agent.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { AGENT_CONNECT_PATH } from '../../proto/runtime/agentConnectPath.js';
import type { PeerIdentity } from '../../proto/runtime/peerIdentity.js';
import type { Authorize, BidiStream, CallContext } from '../../proto/runtime/rpcServer.js';
import { acceptBidi, refuseCall } from './grpcServerStream.js';
import { answerHealthCheck, HEALTH_CHECK_PATH } from './answerHealthCheck.js';


export interface AgentStreamServerOptions {
  /** Serves one agent's Connect stream (handleAgentConnect). */
  connect: (stream: BidiStream<AgentMessage, ControllerMessage>, ctx: CallContext) => Promise<void>;
  /** The same check every gRPC call gets (revocation, agent certificates to AgentService only). */
  authorize: Authorize;
  /** The check health gets on grpc-js too (any Cordon identity, not revoked). */
  authorizeHealth: Authorize;
  /** grpc.health.v1 status of the server ('') or a service; agents may ask for it. */
  health: (service: string) => 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
  log: Logger;
  /** Largest message taken from an agent (default 4 MiB, grpc-js's default). */
  maxMessageBytes?: number;
  /**
   * A connection on which no call and no message arrived for this long is
   * closed: a peer that vanished without a FIN would otherwise hold its
   * session until TCP gives up, minutes later. Keepalive pings do not count:
   * an agent heartbeats well within it, and listening for pings would call
   * into JS for each of them (500 a second at 10,000 agents) where nghttp2
   * answers them alone.
   */
  idleTimeoutMs: number;
  /**
   * Connections one agent certificate may hold at once (default 4: a stream
   * and its replacement while the old one ends, with room to spare); a new
   * one over it closes the oldest. A customer with root holds the agent's
   * key and could otherwise open thousands, each about 80 KiB of the
   * controller's memory.
   */
  maxConnectionsPerHost?: number;
  /** Told of each connection closed over that limit (the listener's refusal log: rate-limited lines). */
  refuse: (address: string, reason: string, details: Record<string, unknown>) => void;
}

export interface AgentStreamServer {
  /** Serves HTTP/2 on an admitted connection whose certificate names an agent. */
  serve(socket: TLSSocket, peer: PeerIdentity): void;
  /** Connections served now. */
  size(): number;
  /** Asks every session to finish (GOAWAY), then destroys what is left after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/**
 * The controller's agent connections, served on node's own HTTP/2 rather
 * than grpc-js: an agent's connection carries one long stream for weeks, and
 * grpc-js's layers per call were most of the heap each agent kept and a
 * good part of every heartbeat's CPU (BENCHMARKS §2). Operators' and feeds'
 * connections stay on grpc-js. An agent's connection serves
 * AgentService/Connect and grpc.health.v1.Health/Check; any other method
 * answers UNIMPLEMENTED, so a customer with root (who holds the agent's
 * key) reaches no other parser.
 */
export function createAgentStreamServer(opts: AgentStreamServerOptions): AgentStreamServer {
  const maxMessageBytes = opts.maxMessageBytes ?? 4 * 1024 * 1024;
  const maxPerHost = opts.maxConnectionsPerHost ?? 4;
  const perHost = new Map<string, TLSSocket[]>();
  // When each session last heard from its peer: an object per session, so that a message only writes a number.
  const lastHeard = new Map<ServerHttp2Session, { at: number }>();
  const h2 = createServer({
    settings: { enablePush: false, maxConcurrentStreams: 8, maxHeaderListSize: 16 * 1024 },
  });
  h2.on('sessionError', () => {});
  const peers = new WeakMap<ServerHttp2Session, PeerIdentity>();
  // Node creates the session synchronously inside 'connection' and announces it with 'session'.
  let arriving: PeerIdentity | undefined;
  h2.on('session', (session: ServerHttp2Session) => {
    if (arriving) peers.set(session, arriving);
    const heard = { at: performance.now() };
    lastHeard.set(session, heard);
    session.on('error', () => {});
    session.once('close', () => lastHeard.delete(session));
  });

  h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const session = stream.session as ServerHttp2Session | undefined;
    const peer = session ? peers.get(session) : undefined;
    stream.on('error', () => {});
    const heard = session ? lastHeard.get(session) : undefined;
    if (!session || !peer || !heard) return refuseCall(stream, new CordonError('unauthenticated', 'mutual TLS is required'));
    heard.at = performance.now();
    const path = String(headers[constants.HTTP2_HEADER_PATH] ?? '');
    const method = path.replace(/^\//, '').replace(/^cordon\.v1\./, '');
    if (headers[constants.HTTP2_HEADER_METHOD] !== 'POST' || !String(headers[constants.HTTP2_HEADER_CONTENT_TYPE] ?? '').startsWith('application/grpc')) {
      stream.respond({ [constants.HTTP2_HEADER_STATUS]: 415 }, { endStream: true });
      return;
    }
    try {
      (path === HEALTH_CHECK_PATH ? opts.authorizeHealth : opts.authorize)(peer, method);
    } catch (err) {
      opts.log.info({ method, err: (err as Error).message }, 'call refused');
      return refuseCall(stream, err);
    }
    if (path === HEALTH_CHECK_PATH) return answerHealthCheck(stream, opts.health);
    if (path !== AGENT_CONNECT_PATH) {
      return refuseCall(stream, new CordonError('unsupported', `${path} is not served on an agent's connection (AgentService/Connect and Health/Check are)`));
    }
    const call = acceptBidi<AgentMessage, ControllerMessage>(stream, {
      deserialize: (bytes) => AgentMessage.decode(bytes),
      serialize: (message) => ControllerMessage.encode(message).finish(),
      maxMessageBytes,
      onData: () => (heard.at = performance.now()),
    });
    const socket = session.socket;
    const ctx: CallContext = { peer, peerAddress: socket.remotePort ? `${socket.remoteAddress}:${socket.remotePort}` : String(socket.remoteAddress), signal: call.signal, abort: call.abort };
    opts.connect(call.stream, ctx).then(
      () => call.finish(),
      (err: unknown) => {
        if (err instanceof CordonError && err.kind !== 'internal') opts.log.info({ method, kind: err.kind, err: err.message }, 'call refused');
        else opts.log.error({ method, err }, 'call failed');
        call.finish(err);
      },
    );
  });

  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [session, heard] of lastHeard) {
      if (now - heard.at <= opts.idleTimeoutMs) continue;
      lastHeard.delete(session);
      opts.log.info({ peer: session.socket?.remoteAddress, silentMs: Math.round(now - heard.at) }, 'agent connection closed: nothing heard from it');
      session.destroy();
    }
  }, Math.min(5_000, opts.idleTimeoutMs));
  sweep.unref();

  return {
    serve(socket, peer) {
      const hostId = peer.kind === 'agent' ? peer.hostId : '';
      const held = perHost.get(hostId) ?? [];
      // Over the limit the oldest goes, not the newcomer: the newest is the likeliest to be the live agent
      // (the old ones may be half-open after a network change), and whoever holds the key can supersede its session anyway.
      while (held.length >= maxPerHost) {
        const oldest = held.shift()!;
        opts.refuse(oldest.remoteAddress ?? 'unknown', 'too many connections for one agent certificate: the oldest closed', { host: hostId, limit: maxPerHost });
        oldest.destroy();
      }
      held.push(socket);
      perHost.set(hostId, held);
      socket.once('close', () => {
        const list = perHost.get(hostId);
        if (!list) return;
        const at = list.indexOf(socket);
        if (at !== -1) list.splice(at, 1);
        if (list.length === 0) perHost.delete(hostId);
      });
      arriving = peer;
      try {
        h2.emit('connection', socket);
      } finally {
        arriving = undefined;
      }
    },
    size: () => lastHeard.size,
    async close(graceMs) {
      clearInterval(sweep);
      const sessions = [...lastHeard.keys()];
      await Promise.all(
        sessions.map(
          (session) =>
            new Promise<void>((resolve) => {
              if (session.destroyed) return resolve();
              const force = setTimeout(() => session.destroy(), graceMs);
              session.once('close', () => {
                clearTimeout(force);
                resolve();
              });
              session.close();
            }),
        ),
      );
    },
  };
}
