import {
  Metadata,
  credentials,
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { CordonError } from './CordonError.js';
import { fromGrpcError } from './grpcStatus.js';
import type { TlsMaterial } from './tls.js';

export interface ClientCallOptions {
  signal?: AbortSignal;
  /** Per-call deadline; unary calls default to 10 s so a dead peer cannot hang a CLI. */
  timeoutMs?: number;
}

/** Mutual-TLS channel credentials plus the options every Cordon client uses. */
export function clientChannel(
  tls: TlsMaterial,
  serverName?: string,
): { credentials: ChannelCredentials; options: ChannelOptions } {
  const options: ChannelOptions = {
    // Detect a dead controller or a half-open TCP link within ~30 s.
    'grpc.keepalive_time_ms': 20_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    // The agent does its own reconnect with backoff and jitter.
    'grpc.initial_reconnect_backoff_ms': 1_000,
  };
  if (serverName) options['grpc.ssl_target_name_override'] = serverName;
  return { credentials: credentials.createSsl(tls.ca, tls.key, tls.cert), options };
}

type UnaryInvoker<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Calls a callback-style unary method and returns a promise; errors are CordonErrors. */
export function callUnary<Req, Res>(
  invoke: UnaryInvoker<Req, Res>,
  request: Req,
  opts: ClientCallOptions = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new CordonError('transient', 'aborted before the call started'));
      return;
    }
    const deadline = new Date(Date.now() + (opts.timeoutMs ?? 10_000));
    const call = invoke(request, new Metadata(), { deadline }, (err, res) => {
      opts.signal?.removeEventListener('abort', cancel);
      if (err) reject(fromGrpcError(err));
      else resolve(res);
    });
    const cancel = () => call.cancel();
    opts.signal?.addEventListener('abort', cancel, { once: true });
  });
}

export interface BidiCall<Req, Res> {
  /** Messages from the server; the iteration throws a CordonError when the stream fails. */
  responses: AsyncIterable<Res>;
  /** Resolves once the message is handed to the transport (honours backpressure). */
  send(message: Req): Promise<void>;
  /** Half-closes our side; the server then ends the stream. */
  end(): void;
  /** Tears the stream down at once. */
  cancel(): void;
}

/** Opens a callback-style bidi stream as an async iterable plus send(). */
export function openBidi<Req, Res>(
  invoke: (options: Partial<CallOptions>) => ClientDuplexStream<Req, Res>,
  opts: { signal?: AbortSignal } = {},
): BidiCall<Req, Res> {
  const call = invoke({});
  const cancel = () => call.cancel();
  opts.signal?.addEventListener('abort', cancel, { once: true });
  call.on('close', () => opts.signal?.removeEventListener('abort', cancel));
  // A stream error is delivered through the iterator below; without a
  // listener Node would treat it as unhandled.
  call.on('error', () => {});
  async function* responses(): AsyncGenerator<Res> {
    try {
      for await (const message of call as AsyncIterable<Res>) yield message;
    } catch (err) {
      throw fromGrpcError(err);
    }
  }
  return {
    responses: responses(),
    send: (message) =>
      new Promise((resolve, reject) => {
        if (call.destroyed || call.writableEnded) {
          reject(new CordonError('transient', 'the stream is closed'));
          return;
        }
        if (call.write(message)) resolve();
        else call.once('drain', () => resolve());
      }),
    end: () => call.end(),
    cancel,
  };
}
