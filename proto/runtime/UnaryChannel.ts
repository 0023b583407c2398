import { constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { CordonError } from './CordonError.js';
import { GrpcCode, fromGrpcError, type StatusLike } from './grpcCodes.js';
import { FRAME_HEADER_BYTES, authorityOf, codeForHttpStatus, connectMutualTls, frameMessage, header, statusFrom } from './grpcHttp2.js';
import type { TlsMaterial } from './tls.js';

/**
 * Unary gRPC calls over node's own HTTP/2 client, for cordonctl.
 *
 * Why not grpc-js here: an operator's command is a process start, and
 * grpc-js (with the protobufjs it bundles for channelz) is 0.8 MB of code to
 * read and compile before the first byte leaves; that was a third of
 * `cordonctl enforce`'s time from spawn to the host's first dropped packet.
 * A unary call needs little of it: one POST on one HTTP/2 stream, a
 * length-prefixed message each way and the status in the trailers
 * (grpc/doc/PROTOCOL-HTTP2.md). The daemons keep grpc-js: they hold
 * streams, reconnect, and are long-lived.
 *
 * What this client does not do, by design: compression (it sends no
 * grpc-accept-encoding, so a compliant server sends none; a compressed
 * answer is refused), retries (the commands are not all idempotent; the
 * operator reruns), name resolution beyond what `net.connect` does.
 */

/** One unary method: what ts-proto's grpc-js service definitions carry. */
export interface UnaryMethod<Req, Res> {
  path: string;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

export interface UnaryCallOptions {
  signal?: AbortSignal;
  /** The call's deadline, also sent to the server as grpc-timeout; default 10 s so a dead peer cannot hang a CLI. */
  timeoutMs?: number;
}

/** grpc-timeout allows at most 8 digits. */
const MAX_TIMEOUT_MS = 99_999_999;

export interface UnaryChannelOptions {
  /** Name to verify the server's certificate against (and send as SNI), instead of the address's host. */
  serverName?: string | undefined;
  /** Largest answer accepted, in bytes (the gRPC frame included). Default: no limit below the 4 GiB a frame can say. */
  maxResponseBytes?: number;
}

/**
 * One HTTP/2 connection to a gRPC server with mutual TLS, opened on the
 * first call and again after it closes. Calls on it run concurrently.
 * Every failure rejects with a CordonError (fromGrpcError's mapping; the
 * controller's exact kind and field come through its trailers).
 */
export class UnaryChannel {
  private session: ClientHttp2Session | undefined;
  private lastSessionError: Error | undefined;
  private readonly authority: string;

  constructor(
    private readonly address: string,
    private readonly tls: Pick<TlsMaterial, 'ca' | 'cert' | 'key'>,
    private readonly options: UnaryChannelOptions = {},
  ) {
    this.authority = authorityOf(address).authority;
  }

  call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, opts: UnaryCallOptions = {}): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(new CordonError('transient', 'aborted before the call started'));
        return;
      }
      const timeoutMs = Math.min(Math.max(1, Math.ceil(opts.timeoutMs ?? 10_000)), MAX_TIMEOUT_MS);
      let body: Buffer;
      try {
        body = method.requestSerialize(request);
      } catch (err) {
        reject(new CordonError('invalid', `cannot encode the request for ${method.path}: ${(err as Error).message}`, { cause: err }));
        return;
      }
      const frame = frameMessage(body);

      let stream: ClientHttp2Stream;
      try {
        stream = this.open().request({
          [constants.HTTP2_HEADER_METHOD]: 'POST',
          [constants.HTTP2_HEADER_PATH]: method.path,
          [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
          [constants.HTTP2_HEADER_TE]: 'trailers',
          'grpc-timeout': `${timeoutMs}m`,
        });
      } catch (err) {
        reject(this.unavailable(err));
        return;
      }

      let settled = false;
      let status: StatusLike | undefined;
      let httpStatus: number | undefined;
      let contentType: string | undefined;
      let streamError: Error | undefined;
      const chunks: Buffer[] = [];
      let received = 0;
      const maxBytes = this.options.maxResponseBytes ?? Number.POSITIVE_INFINITY;

      const finish = (outcome: { ok: Res } | { err: CordonError }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
        if ('ok' in outcome) resolve(outcome.ok);
        else reject(outcome.err);
      };
      const fail = (code: number, details: string) => finish({ err: fromGrpcError({ code, details }) });

      const timer = setTimeout(() => fail(GrpcCode.DEADLINE_EXCEEDED, `deadline of ${timeoutMs} ms exceeded calling ${method.path}`), timeoutMs);
      const onAbort = () => fail(GrpcCode.CANCELLED, `cancelled calling ${method.path}`);
      opts.signal?.addEventListener('abort', onAbort, { once: true });

      stream.on('response', (headers) => {
        httpStatus = Number(headers[constants.HTTP2_HEADER_STATUS]);
        contentType = header(headers, constants.HTTP2_HEADER_CONTENT_TYPE);
        // Trailers-Only: the status comes in the only header block.
        status = statusFrom(headers);
      });
      stream.on('trailers', (trailers) => {
        status = statusFrom(trailers) ?? status;
      });
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxBytes) {
          fail(GrpcCode.RESOURCE_EXHAUSTED, `the answer to ${method.path} exceeds ${maxBytes} bytes`);
          return;
        }
        chunks.push(chunk);
      });
      stream.on('error', (err) => {
        streamError = err;
      });
      stream.on('close', () => {
        if (settled) return;
        if (httpStatus !== undefined && httpStatus !== 200) {
          fail(codeForHttpStatus(httpStatus), `HTTP ${httpStatus} from ${this.authority} calling ${method.path}`);
          return;
        }
        if (!status) {
          // No answer at all: the connection or the server never got to it.
          if (httpStatus === undefined) {
            finish({ err: this.unavailable(this.lastSessionError ?? streamError, method.path) });
            return;
          }
          const refused = stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;
          fail(refused ? GrpcCode.UNAVAILABLE : GrpcCode.INTERNAL, `the stream for ${method.path} ended without a status (HTTP/2 code ${stream.rstCode}${streamError ? `: ${streamError.message}` : ''})`);
          return;
        }
        if (status.code !== GrpcCode.OK) {
          finish({ err: fromGrpcError(status) });
          return;
        }
        if (!contentType?.startsWith('application/grpc')) {
          fail(GrpcCode.UNKNOWN, `the answer to ${method.path} is ${JSON.stringify(contentType)}, not gRPC`);
          return;
        }
        const decoded = decodeSingleMessage(Buffer.concat(chunks, received), method.path);
        if ('err' in decoded) {
          fail(GrpcCode.INTERNAL, decoded.err);
          return;
        }
        try {
          finish({ ok: method.responseDeserialize(decoded.ok) });
        } catch (err) {
          fail(GrpcCode.INTERNAL, `cannot decode the answer to ${method.path}: ${(err as Error).message}`);
        }
      });
      stream.end(frame);
    });
  }

  /** Closes the connection; calls in flight are cancelled. */
  close(): void {
    this.session?.destroy();
    this.session = undefined;
  }

  private open(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = connectMutualTls(this.address, this.tls, this.options.serverName);
    this.lastSessionError = undefined;
    session.on('error', (err) => {
      this.lastSessionError = err;
    });
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
    });
    this.session = session;
    return session;
  }

  private unavailable(err: unknown, path?: string): CordonError {
    // Node cancels a stream that was waiting for a connection that failed; the failure itself is its cause.
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
    const why = cause instanceof Error ? cause.message : 'the connection closed';
    return fromGrpcError({ code: GrpcCode.UNAVAILABLE, details: `cannot reach ${this.authority}${path ? ` calling ${path}` : ''}: ${why}` });
  }
}

/** A unary answer is exactly one uncompressed length-prefixed message. */
function decodeSingleMessage(data: Buffer, path: string): { ok: Buffer } | { err: string } {
  if (data.length < FRAME_HEADER_BYTES) return { err: `the answer to ${path} has no message (${data.length} bytes)` };
  const flag = data.readUInt8(0);
  if (flag !== 0) return { err: `the answer to ${path} is compressed (flag ${flag}), which this client never asked for` };
  const length = data.readUInt32BE(1);
  if (data.length !== FRAME_HEADER_BYTES + length) {
    return { err: `the answer to ${path} holds ${data.length - FRAME_HEADER_BYTES} bytes after its first message's prefix, which says ${length}` };
  }
  return { ok: data.subarray(FRAME_HEADER_BYTES) };
}
