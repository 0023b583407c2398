import type {
  handleBidiStreamingCall,
  handleUnaryCall,
  Server,
  ServerDuplexStream,
  ServerUnaryCall,
  ServiceDefinition,
  UntypedServiceImplementation,
  sendUnaryData,
} from '@grpc/grpc-js';
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call.js';
import type { Logger } from 'pino';
import { CordonError } from './CordonError.js';
import { toGrpcStatus } from './grpcStatus.js';
import { identityFromCertificate, type PeerIdentity } from './peerIdentity.js';

/** What every handler learns about its call, already authenticated. */
export interface CallContext {
  peer: PeerIdentity;
  /** "ipv4:1.2.3.4:5678" style address of the peer, for logs only. */
  peerAddress: string;
  /** Aborted when the client cancels or the connection drops. */
  signal: AbortSignal;
  /**
   * Ends the call from the server's side: aborts `signal` with `reason`.
   * Where the transport offers it (the agents' own HTTP/2 server), a handler
   * that must end its call early needs no second AbortController of its own
   * (about 0.9 KiB with its listener, per agent stream).
   */
  abort?: (reason: unknown) => void;
}

/** Extra checks on the identity before a handler runs (revocation, roles). */
export type Authorize = (peer: PeerIdentity, method: string) => void;

export interface HandlerDeps {
  log: Logger;
  authorize: Authorize;
}

function authenticate(call: ServerSurfaceCall): PeerIdentity {
  const auth = call.getAuthContext();
  if (auth?.transportSecurityType !== 'ssl') {
    throw new CordonError('unauthenticated', 'mutual TLS is required');
  }
  return identityFromCertificate(auth.sslPeerCertificate);
}

/** Reads the peer's identity from its certificate and asks `authorize`; throws a CordonError when either refuses. */
function checkPeer(call: ServerSurfaceCall, method: string, authorize: Authorize): PeerIdentity {
  const peer = authenticate(call);
  authorize(peer, method);
  return peer;
}

function contextFor(call: ServerSurfaceCall, method: string, deps: HandlerDeps): { ctx: CallContext; done: () => void } {
  const peer = checkPeer(call, method, deps.authorize);
  const controller = new AbortController();
  const abort = () => controller.abort(new CordonError('transient', 'the call was cancelled by the peer'));
  call.once('cancelled', abort);
  return {
    ctx: { peer, peerAddress: call.getPeer(), signal: controller.signal },
    done: () => call.off('cancelled', abort),
  };
}

function logFailure(log: Logger, method: string, err: unknown): void {
  if (err instanceof CordonError && err.kind !== 'internal') {
    log.info({ method, kind: err.kind, err: err.message }, 'call refused');
  } else {
    log.error({ method, err }, 'call failed');
  }
}

/** Wraps a promise-returning handler into grpc-js's callback style. */
export function unaryHandler<Req, Res>(
  method: string,
  fn: (request: Req, ctx: CallContext) => Promise<Res>,
  deps: HandlerDeps,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    let done = () => {};
    (async () => {
      const prepared = contextFor(call, method, deps);
      done = prepared.done;
      return fn(call.request, prepared.ctx);
    })().then(
      (res) => {
        done();
        callback(null, res);
      },
      (err: unknown) => {
        done();
        logFailure(deps.log, method, err);
        callback(toGrpcStatus(err));
      },
    );
  };
}

/** A bidirectional stream as an async iterable in and a promise-returning send out. */
export interface BidiStream<Req, Res> {
  requests: AsyncIterable<Req>;
  /** Resolves once the message is handed to the transport (honours backpressure). */
  send(message: Res): Promise<void>;
  /**
   * Where the transport offers it: each message, as it is decoded and when
   * no earlier one still waits in `requests` (order is kept), goes first to
   * `take`; one it takes (returns true) is not yielded. For the frequent
   * message handled synchronously (an agent's heartbeat), so that the
   * reader waiting on `requests` stays asleep on the same promise instead of
   * waking, and allocating, for each one.
   */
  intercept?(take: (message: Req) => boolean): void;
}

/**
 * Wraps a bidi handler. When `fn` resolves the stream ends with OK; when it
 * throws, the stream ends with the error's gRPC status.
 */
export function bidiHandler<Req, Res>(
  method: string,
  fn: (stream: BidiStream<Req, Res>, ctx: CallContext) => Promise<void>,
  deps: HandlerDeps,
): handleBidiStreamingCall<Req, Res> {
  return (call: ServerDuplexStream<Req, Res>) => {
    let done = () => {};
    const send = (message: Res): Promise<void> =>
      new Promise((resolve, reject) => {
        if (call.destroyed || call.writableEnded) {
          reject(new CordonError('transient', 'the stream is closed'));
          return;
        }
        if (call.write(message)) resolve();
        else call.once('drain', () => resolve());
      });
    (async () => {
      const prepared = contextFor(call, method, deps);
      done = prepared.done;
      // destroyOnReturn false: Node's default iterator destroys the stream when
      // the client half-closes, and a destroyed call can no longer send its
      // status, leaving the client waiting forever.
      const requests = (call as unknown as { iterator(o: { destroyOnReturn: boolean }): AsyncIterableIterator<Req> }).iterator({
        destroyOnReturn: false,
      });
      await fn({ requests, send }, prepared.ctx);
    })().then(
      () => {
        done();
        if (!call.writableEnded) call.end();
      },
      (err: unknown) => {
        done();
        logFailure(deps.log, method, err);
        if (!call.writableEnded) call.emit('error', toGrpcStatus(err));
      },
    );
  };
}

type AnyHandler = (call: ServerSurfaceCall & { emit(event: 'error', err: unknown): boolean }, callback?: sendUnaryData<unknown>) => void;

/**
 * An `addService` for services Cordon does not write itself (gRPC health,
 * server reflection): every call of a service added through it is
 * authenticated like Cordon's own (mutual TLS, one Cordon identity in the
 * certificate) and `deps.authorize` is asked with the method's full path
 * before the library's handler runs. A refusal ends the call with the
 * mapped status and the handler never sees it.
 */
export function guardedServices(server: Pick<Server, 'addService'>, deps: HandlerDeps): Pick<Server, 'addService'> {
  return {
    addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
      const guarded: UntypedServiceImplementation = {};
      for (const [name, definition] of Object.entries(service)) {
        const handler = (implementation[name] ?? implementation[definition.originalName ?? '']) as AnyHandler | undefined;
        if (!handler) continue;
        const method = definition.path.replace(/^\//, '');
        const wrapped: AnyHandler = (call, callback) => {
          try {
            checkPeer(call, method, deps.authorize);
          } catch (err) {
            logFailure(deps.log, method, err);
            if (!definition.responseStream) callback?.(toGrpcStatus(err));
            else call.emit('error', toGrpcStatus(err));
            return;
          }
          handler(call, callback);
        };
        guarded[name] = wrapped as never;
      }
      server.addService(service, guarded);
    },
  };
}
