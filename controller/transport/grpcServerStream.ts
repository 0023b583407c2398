import { constants, type ServerHttp2Stream } from 'node:http2';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { FIELD_KEY, GrpcCode, KIND_KEY } from '../../proto/runtime/grpcCodes.js';
import { FRAME_HEADER_BYTES, frameMessage } from '../../proto/runtime/grpcHttp2.js';
import { toGrpcStatus } from '../../proto/runtime/grpcStatus.js';
import type { BidiStream } from '../../proto/runtime/rpcServer.js';

// The server's half of a gRPC call on node's own HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md):
// what the controller serves agent streams with instead of grpc-js, whose
// layers per call (interceptors, decoder, call object, its stream states)
// were most of the 28 KiB of heap each agent stream kept (BENCHMARKS §2).

/** Messages decoded but not yet taken before the stream stops reading. */
const READ_AHEAD = 16;
/** What is left of the client's bytes when a chunk ended on a message's end: one object for every stream. */
const NOTHING = Buffer.alloc(0);

export interface ServerStreamOptions<Req, Res> {
  deserialize: (bytes: Uint8Array) => Req;
  serialize: (message: Res) => Uint8Array;
  /** Largest message taken from the client. */
  maxMessageBytes: number;
  /** Called on every chunk the client sends (the connection's idle check). */
  onData?: () => void;
}

export interface ServerCall<Req, Res> {
  stream: BidiStream<Req, Res>;
  /** Aborted when the client cancels, resets or loses the connection, or `abort` is called. */
  signal: AbortSignal;
  /** Aborts `signal` from the server's side (a handler ending its call early). */
  abort: (reason: unknown) => void;
  /** Ends the call: OK without an error, else the error's status (once; later calls do nothing). */
  finish(err?: unknown): void;
}

/** A taker that throws has not taken the message: the reader gets it, and whatever failed fails there. */
function taken<Req>(take: (message: Req) => boolean, message: Req): boolean {
  try {
    return take(message);
  } catch {
    return false;
  }
}

/** gRPC status as trailers; grpc-message is percent-encoded (PROTOCOL-HTTP2.md). */
export function statusTrailers(err: unknown, code?: number): Record<string, string> {
  if (err === undefined) return { 'grpc-status': String(GrpcCode.OK) };
  const mapped = toGrpcStatus(err);
  code ??= mapped.code;
  const details = mapped.details;
  const trailers: Record<string, string> = { 'grpc-status': String(code), 'grpc-message': encodeURIComponent(details) };
  if (err instanceof CordonError) {
    trailers[KIND_KEY] = err.kind;
    if (err.field) trailers[FIELD_KEY] = err.field;
  }
  return trailers;
}

/** Answers a call it will not serve with a Trailers-Only response (no message, the status in the headers). */
export function refuseCall(stream: ServerHttp2Stream, err: unknown): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ [constants.HTTP2_HEADER_STATUS]: 200, [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc', ...statusTrailers(err) }, { endStream: true });
}

/**
 * Takes a bidirectional call: decodes the client's messages into an async
 * iterable (at most READ_AHEAD waiting before the socket is paused), sends
 * framed messages with backpressure, and ends with the status `finish` is
 * given. A compressed, oversized or undecodable message ends the call with
 * INTERNAL or RESOURCE_EXHAUSTED at once, and the iteration throws it.
 * The client's half-close ends the iteration normally; a reset or a lost
 * connection aborts `signal` and makes the iteration throw UNAVAILABLE.
 */
export function acceptBidi<Req, Res>(h2: ServerHttp2Stream, opts: ServerStreamOptions<Req, Res>): ServerCall<Req, Res> {
  const controller = new AbortController();
  const queue: Req[] = [];
  let pending: Buffer = NOTHING;
  let take: ((message: Req) => boolean) | undefined;
  let ended = false;
  let failure: CordonError | undefined;
  let finished = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  h2.respond({ [constants.HTTP2_HEADER_STATUS]: 200, [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc' }, { waitForTrailers: true });
  let trailers: Record<string, string> = statusTrailers(undefined);
  h2.on('wantTrailers', () => h2.sendTrailers(trailers));
  // A write after the peer reset is reported here; the close below says what happened.
  h2.on('error', () => {});

  const finishWith = (err: unknown, code?: number) => {
    if (finished) return;
    finished = true;
    if (h2.destroyed || h2.closed) return;
    trailers = statusTrailers(err, code);
    h2.end();
  };
  const finish = (err?: unknown) => finishWith(err);
  const fail = (err: CordonError, code?: number) => {
    failure ??= err;
    finishWith(err, code);
    notify();
  };

  const onData = opts.onData;
  h2.on('data', (chunk: Buffer) => {
    onData?.();
    if (failure) return;
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= FRAME_HEADER_BYTES) {
      const flag = pending.readUInt8(0);
      const length = pending.readUInt32BE(1);
      if (flag !== 0) return fail(new CordonError('internal', `a compressed message (flag ${flag}); this server accepts none (no grpc-accept-encoding was sent)`));
      if (length > opts.maxMessageBytes) {
        return fail(new CordonError('invalid', `a message of ${length} bytes, over the limit of ${opts.maxMessageBytes}`, { field: 'message' }), GrpcCode.RESOURCE_EXHAUSTED);
      }
      if (pending.length < FRAME_HEADER_BYTES + length) break;
      const body = pending.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length);
      pending = pending.length === FRAME_HEADER_BYTES + length ? NOTHING : pending.subarray(FRAME_HEADER_BYTES + length);
      let message: Req;
      try {
        message = opts.deserialize(body);
      } catch (err) {
        return fail(new CordonError('invalid', `cannot decode a message: ${(err as Error).message}`, { field: 'message' }));
      }
      if (queue.length === 0 && take && taken(take, message)) continue;
      queue.push(message);
    }
    if (queue.length >= READ_AHEAD) h2.pause();
    if (queue.length > 0) notify();
  });
  h2.on('end', () => {
    ended = true;
    notify();
  });
  h2.on('close', () => {
    if (!ended && !failure) failure = new CordonError('transient', 'the call was cancelled by the peer');
    // The call is over either way: whatever waits on it stops.
    controller.abort(failure ?? new CordonError('transient', 'the call is over'));
    finished = true;
    notify();
  });

  async function* requests(): AsyncGenerator<Req> {
    for (;;) {
      const next = queue.shift();
      if (next !== undefined) {
        if (queue.length < READ_AHEAD / 2 && h2.isPaused()) h2.resume();
        yield next;
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  }

  const send = (message: Res): Promise<void> =>
    new Promise((resolve, reject) => {
      if (finished || h2.destroyed || h2.writableEnded) {
        reject(new CordonError('transient', 'the stream is closed'));
        return;
      }
      if (h2.write(frameMessage(opts.serialize(message)))) {
        resolve();
        return;
      }
      const onDrain = () => {
        h2.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        h2.off('drain', onDrain);
        reject(new CordonError('transient', 'the stream is closed'));
      };
      h2.once('drain', onDrain);
      h2.once('close', onClose);
    });

  const intercept = (fn: (message: Req) => boolean) => {
    take = fn;
  };
  return { stream: { requests: requests(), send, intercept }, signal: controller.signal, abort: (reason) => controller.abort(reason), finish };
}
