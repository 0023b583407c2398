import { constants, type ClientHttp2Stream } from 'node:http2';
import { CordonError } from './CordonError.js';
import { GrpcCode, fromGrpcError, type StatusLike } from './grpcCodes.js';
import { FRAME_HEADER_BYTES, codeForHttpStatus, connectMutualTls, frameMessage, header, statusFrom } from './grpcHttp2.js';
import type { BidiCall } from './rpcClient.js';
import type { TlsMaterial } from './tls.js';

export interface Http2BidiOptions<Req, Res> {
  address: string;
  tls: Pick<TlsMaterial, 'ca' | 'cert' | 'key'>;
  serverName?: string | undefined;
  /** The method's path, e.g. /cordon.v1.AgentService/Connect. */
  path: string;
  serialize: (message: Req) => Uint8Array;
  deserialize: (bytes: Uint8Array) => Res;
  signal?: AbortSignal;
  /**
   * An HTTP/2 ping this often; no answer within keepaliveTimeoutMs ends the
   * stream (default 20 s and 10 s). A function is asked again for each
   * ping, so the interval can follow the caller's state.
   */
  keepaliveMs?: number | (() => number);
  keepaliveTimeoutMs?: number;
  /** Largest message taken from the server (default 4 MiB, grpc-js's default). */
  maxMessageBytes?: number;
}

/** A bidi stream whose `connected` says whether TLS and HTTP/2 are up (the server was reached, whatever it answers). */
export interface Http2BidiCall<Req, Res> extends BidiCall<Req, Res> {
  connected(): boolean;
}

/** Messages read but not yet taken before the stream stops reading from the socket. */
const READ_AHEAD = 64;

/**
 * One gRPC bidirectional stream on its own HTTP/2 connection, over node's
 * own http2: what the agent's link to the controller needs, without
 * grpc-js (which costs the agent about 3 MiB of its resident memory and a
 * third of its start, BENCHMARKS §4). The stream ends with the server's
 * status (OK ends the iteration; anything else throws a CordonError),
 * or as UNAVAILABLE when the connection is lost, a keepalive ping goes
 * unanswered, or `signal` aborts it. Messages are never compressed.
 */
export function openHttp2Bidi<Req, Res>(opts: Http2BidiOptions<Req, Res>): Http2BidiCall<Req, Res> {
  const session = connectMutualTls(opts.address, opts.tls, opts.serverName);
  const maxBytes = opts.maxMessageBytes ?? 4 * 1024 * 1024;
  let up = false;
  let sessionError: Error | undefined;
  let failure: CordonError | undefined;
  let status: StatusLike | undefined;
  let httpStatus: number | undefined;
  let finished = false;
  const queue: Res[] = [];
  let wake: (() => void) | undefined;
  let pending: Buffer = Buffer.alloc(0);

  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (code: number, details: string) => {
    failure ??= fromGrpcError({ code, details });
    stream.close(constants.NGHTTP2_CANCEL);
    session.destroy();
  };

  session.on('connect', () => {
    up = true;
  });
  session.on('error', (err) => {
    sessionError = err;
  });
  const stream: ClientHttp2Stream = session.request({
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: opts.path,
    [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
    [constants.HTTP2_HEADER_TE]: 'trailers',
  });
  stream.on('error', (err) => {
    sessionError ??= err;
  });
  stream.on('response', (headers) => {
    httpStatus = Number(headers[constants.HTTP2_HEADER_STATUS]);
    status = statusFrom(headers);
    const type = header(headers, constants.HTTP2_HEADER_CONTENT_TYPE);
    if (httpStatus !== 200) fail(codeForHttpStatus(httpStatus), `HTTP ${httpStatus} from ${opts.address} on ${opts.path}`);
    else if (!status && !type?.startsWith('application/grpc')) fail(GrpcCode.UNKNOWN, `the answer on ${opts.path} is ${JSON.stringify(type)}, not gRPC`);
  });
  stream.on('trailers', (trailers) => {
    status = statusFrom(trailers) ?? status;
  });
  stream.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= FRAME_HEADER_BYTES) {
      const flag = pending.readUInt8(0);
      const length = pending.readUInt32BE(1);
      if (flag !== 0) return fail(GrpcCode.INTERNAL, `a compressed message (flag ${flag}) on ${opts.path}, which this client never asked for`);
      if (length > maxBytes) return fail(GrpcCode.RESOURCE_EXHAUSTED, `a message of ${length} bytes on ${opts.path}, over the limit of ${maxBytes}`);
      if (pending.length < FRAME_HEADER_BYTES + length) break;
      const body = pending.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length);
      pending = pending.subarray(FRAME_HEADER_BYTES + length);
      try {
        queue.push(opts.deserialize(body));
      } catch (err) {
        return fail(GrpcCode.INTERNAL, `cannot decode a message on ${opts.path}: ${(err as Error).message}`);
      }
    }
    if (queue.length >= READ_AHEAD) stream.pause();
    notify();
  });
  stream.on('close', () => {
    finished = true;
    clearTimeout(keepalive);
    session.close();
    if (!failure && !(status && status.code === GrpcCode.OK)) {
      if (status) failure = fromGrpcError(status);
      else if (httpStatus === undefined) failure = fromGrpcError({ code: GrpcCode.UNAVAILABLE, details: `cannot reach ${opts.address}: ${causeOf(sessionError)}` });
      else failure = fromGrpcError({ code: GrpcCode.UNAVAILABLE, details: `the stream on ${opts.path} ended without a status (${causeOf(sessionError)})` });
    }
    notify();
  });

  const keepaliveEvery = () => (typeof opts.keepaliveMs === 'function' ? opts.keepaliveMs() : (opts.keepaliveMs ?? 20_000));
  const pingNow = () => {
    keepalive = setTimeout(pingNow, keepaliveEvery());
    if (!up || session.destroyed) return;
    const timer = setTimeout(() => fail(GrpcCode.UNAVAILABLE, `no answer to a keepalive ping from ${opts.address} within ${opts.keepaliveTimeoutMs ?? 10_000} ms`), opts.keepaliveTimeoutMs ?? 10_000);
    const sent = session.ping(() => clearTimeout(timer));
    if (!sent) clearTimeout(timer);
  };
  let keepalive = setTimeout(pingNow, keepaliveEvery());

  const cancel = () => {
    if (finished) return;
    failure ??= new CordonError('transient', 'the stream was cancelled');
    stream.close(constants.NGHTTP2_CANCEL);
    session.destroy();
  };
  opts.signal?.addEventListener('abort', cancel, { once: true });
  stream.once('close', () => opts.signal?.removeEventListener('abort', cancel));

  async function* responses(): AsyncGenerator<Res> {
    for (;;) {
      const next = queue.shift();
      if (next !== undefined) {
        if (queue.length < READ_AHEAD / 2 && stream.isPaused()) stream.resume();
        yield next;
        continue;
      }
      if (finished) {
        if (failure) throw failure;
        return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  }

  return {
    responses: responses(),
    send: (message) =>
      new Promise((resolve, reject) => {
        if (finished || stream.destroyed || stream.writableEnded) {
          reject(new CordonError('transient', 'the stream is closed'));
          return;
        }
        if (stream.write(frameMessage(opts.serialize(message)))) {
          resolve();
          return;
        }
        const onDrain = () => {
          stream.off('close', onClose);
          resolve();
        };
        const onClose = () => {
          stream.off('drain', onDrain);
          reject(new CordonError('transient', 'the stream is closed'));
        };
        stream.once('drain', onDrain);
        stream.once('close', onClose);
      }),
    end: () => {
      if (!stream.writableEnded) stream.end();
    },
    cancel,
    connected: () => up,
  };
}

/** Node cancels a stream that waited for a connection that failed; the failure is its cause. */
function causeOf(err: Error | undefined): string {
  if (!err) return 'the connection closed';
  return err.cause instanceof Error ? err.cause.message : err.message;
}
