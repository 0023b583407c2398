import { Server, ServerCredentials, status as grpcStatus, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { createSecureServer, type Http2SecureServer, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Timestamp } from '../../proto/gen/google/protobuf/timestamp.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { toGrpcStatus } from '../../proto/runtime/grpcStatus.js';
import { healthCheckMethod } from '../../proto/runtime/healthCheckMethod.js';
import { UnaryChannel, type UnaryMethod } from '../../proto/runtime/UnaryChannel.js';
import { TestPki } from '../helpers/pki.js';

// cordonctl's unary client (UnaryChannel) against a real grpc-js server for
// what a controller answers, and against a raw HTTP/2 server for what a
// broken or hostile peer might send instead.

const echo: UnaryMethod<Timestamp, Timestamp> = {
  path: '/test.Echo/Echo',
  requestSerialize: (v) => Buffer.from(Timestamp.encode(v).finish()),
  responseDeserialize: (b) => Timestamp.decode(b),
};
const grpcEcho = {
  echo: {
    path: echo.path,
    requestStream: false,
    responseStream: false,
    requestSerialize: echo.requestSerialize,
    requestDeserialize: (b: Buffer) => Timestamp.decode(b),
    responseSerialize: echo.requestSerialize,
    responseDeserialize: echo.responseDeserialize,
  },
};

const pki = new TestPki();
const operator = pki.operator('olga', 'admin');
let grpcServer: Server;
let grpcAddress: string;
let raw: Http2SecureServer;
let rawAddress: string;
/** What the raw server does with the next stream, set by each test. */
let answer: (stream: ServerHttp2Stream) => void = () => {};

function frame(payload: Buffer, flag = 0): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flag, 0);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

beforeAll(async () => {
  const ctl = pki.controller();
  grpcServer = new Server();
  grpcServer.addService(grpcEcho, {
    echo: (call: ServerUnaryCall<Timestamp, Timestamp>, cb: sendUnaryData<Timestamp>) => {
      if (call.request.nanos === 7) cb(toGrpcStatus(new CordonError('conflict', 'already enforced', { field: 'incidentId' })));
      else if (call.request.nanos === 8) setTimeout(() => cb(null, call.request), 2_000);
      else cb(null, { seconds: call.request.seconds + 1n, nanos: call.request.nanos });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', ServerCredentials.createSsl(ctl.ca, [{ private_key: ctl.key, cert_chain: ctl.cert }], true), (e, p) => (e ? reject(e) : resolve(p))),
  );
  grpcAddress = `127.0.0.1:${port}`;
  raw = createSecureServer({ ca: ctl.ca, cert: ctl.cert, key: ctl.key, requestCert: true, rejectUnauthorized: true });
  raw.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => answer(stream));
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  rawAddress = `127.0.0.1:${(raw.address() as AddressInfo).port}`;
});

afterAll(async () => {
  grpcServer?.forceShutdown();
  await new Promise((resolve) => raw?.close(resolve));
  pki.cleanup();
});

async function callRaw(respond: (stream: ServerHttp2Stream) => void, opts: { timeoutMs?: number; maxResponseBytes?: number } = {}) {
  answer = respond;
  const ch = new UnaryChannel(rawAddress, operator, opts.maxResponseBytes === undefined ? {} : { maxResponseBytes: opts.maxResponseBytes });
  try {
    return await ch.call(echo, { seconds: 1n, nanos: 0 }, { timeoutMs: opts.timeoutMs ?? 2_000 });
  } finally {
    ch.close();
  }
}

const ok = { ':status': 200, 'content-type': 'application/grpc' };

describe('UnaryChannel against a gRPC server', () => {
  it('calls, and answers several calls on one connection', async () => {
    const ch = new UnaryChannel(grpcAddress, operator);
    try {
      const answers = await Promise.all([1n, 2n, 3n].map((s) => ch.call(echo, { seconds: s, nanos: 1 })));
      expect(answers.map((a) => a.seconds)).toEqual([2n, 3n, 4n]);
    } finally {
      ch.close();
    }
  });

  it("keeps the server's error kind and field from its trailers", async () => {
    const ch = new UnaryChannel(grpcAddress, operator);
    const err = await ch.call(echo, { seconds: 1n, nanos: 7 }).catch((e: unknown) => e);
    ch.close();
    expect(err).toBeInstanceOf(CordonError);
    expect(err).toMatchObject({ kind: 'conflict', field: 'incidentId', message: 'incidentId: already enforced' });
  });

  it('gives up at its deadline and says so', async () => {
    const ch = new UnaryChannel(grpcAddress, operator);
    const started = Date.now();
    const err = await ch.call(echo, { seconds: 1n, nanos: 8 }, { timeoutMs: 300 }).catch((e: unknown) => e);
    ch.close();
    expect(err).toMatchObject({ kind: 'transient' });
    expect((err as Error).message).toMatch(/deadline|Deadline/);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('refuses a server whose certificate does not carry the name asked for', async () => {
    const ch = new UnaryChannel(grpcAddress, operator, { serverName: 'not-the-controller.example' });
    const err = await ch.call(echo, { seconds: 1n, nanos: 0 }).catch((e: unknown) => e);
    ch.close();
    expect(err).toMatchObject({ kind: 'transient' });
    expect((err as Error).message).toMatch(/not-the-controller\.example/);
  });

  it('refuses a server signed by another CA', async () => {
    const other = new TestPki();
    try {
      const ch = new UnaryChannel(grpcAddress, other.operator('mallory', 'admin'));
      const err = await ch.call(echo, { seconds: 1n, nanos: 0 }).catch((e: unknown) => e);
      ch.close();
      expect(err).toMatchObject({ kind: 'transient' });
      expect((err as Error).message).toMatch(/certificate|self.signed|issuer/i);
    } finally {
      other.cleanup();
    }
  });

  it('names the address when nothing listens there', async () => {
    const ch = new UnaryChannel('127.0.0.1:1', operator);
    const err = await ch.call(echo, { seconds: 1n, nanos: 0 }).catch((e: unknown) => e);
    ch.close();
    expect(err).toMatchObject({ kind: 'transient' });
    expect((err as Error).message).toBe('cannot reach 127.0.0.1:1 calling /test.Echo/Echo: connect ECONNREFUSED 127.0.0.1:1');
  });

  it('checks health with the hand-encoded grpc.health.v1 messages, against the real health service', async () => {
    const { HealthImplementation } = await import('grpc-health-check');
    const server = new Server();
    new HealthImplementation({ '': 'SERVING', 'cordon.v1.DeskService': 'NOT_SERVING' }).addToServer(server);
    const ctl = pki.controller();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createSsl(ctl.ca, [{ private_key: ctl.key, cert_chain: ctl.cert }], true), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const ch = new UnaryChannel(`127.0.0.1:${port}`, operator);
    try {
      expect(await ch.call(healthCheckMethod, { service: '' })).toEqual({ status: 'SERVING' });
      expect(await ch.call(healthCheckMethod, { service: 'cordon.v1.DeskService' })).toEqual({ status: 'NOT_SERVING' });
      await expect(ch.call(healthCheckMethod, { service: 'no.such.Service' })).rejects.toMatchObject({ kind: 'not_found' });
    } finally {
      ch.close();
      server.forceShutdown();
    }
  });
});

describe('UnaryChannel against a broken or hostile server', () => {
  it('reads a status sent with the headers alone (Trailers-Only), percent-decoded', async () => {
    const err = await callRaw((s) => s.respond({ ...ok, 'grpc-status': String(grpcStatus.PERMISSION_DENIED), 'grpc-message': 'not%20yours%3A%20%C3%A9' }, { endStream: true })).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'permission', message: 'not yours: é' });
  });

  it('maps an HTTP error that is not gRPC by its status (gRPC HTTP mapping)', async () => {
    await expect(callRaw((s) => s.respond({ ':status': 503 }, { endStream: true }))).rejects.toMatchObject({ kind: 'transient', message: expect.stringMatching(/HTTP 503/) });
    await expect(callRaw((s) => s.respond({ ':status': 404 }, { endStream: true }))).rejects.toMatchObject({ kind: 'unsupported' });
  });

  it('refuses an answer that says OK but carries no message, two messages, or a short one', async () => {
    const withTrailers = (body: Buffer) => (s: ServerHttp2Stream) => {
      s.respond(ok, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(body);
    };
    const one = Buffer.from(Timestamp.encode({ seconds: 5n, nanos: 0 }).finish());
    await expect(callRaw(withTrailers(Buffer.alloc(0)))).rejects.toMatchObject({ kind: 'internal', message: expect.stringMatching(/no message/) });
    await expect(callRaw(withTrailers(Buffer.concat([frame(one), frame(one)])))).rejects.toMatchObject({ kind: 'internal' });
    await expect(callRaw(withTrailers(frame(one).subarray(0, 6)))).rejects.toMatchObject({ kind: 'internal' });
    expect(await callRaw(withTrailers(frame(one)))).toEqual({ seconds: 5n, nanos: 0 });
  });

  it('refuses a compressed message it never asked for, and bytes that are not the message', async () => {
    const withTrailers = (body: Buffer) => (s: ServerHttp2Stream) => {
      s.respond(ok, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(body);
    };
    await expect(callRaw(withTrailers(frame(Buffer.from([1, 2, 3]), 1)))).rejects.toMatchObject({ kind: 'internal', message: expect.stringMatching(/compressed/) });
    await expect(callRaw(withTrailers(frame(Buffer.from([0xff, 0xff, 0xff]))))).rejects.toMatchObject({ kind: 'internal', message: expect.stringMatching(/cannot decode/) });
  });

  it('refuses an answer over its size limit without holding it all', async () => {
    const err = await callRaw(
      (s) => {
        s.respond(ok);
        s.end(frame(Buffer.alloc(1 << 20)));
      },
      { maxResponseBytes: 64 * 1024 },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'transient', message: expect.stringMatching(/exceeds 65536 bytes/) });
  });

  it('treats a stream reset before any answer, or an answer without a status, as a failure', async () => {
    await expect(callRaw((s) => s.close(0x2))).rejects.toMatchObject({ kind: 'transient' });
    await expect(callRaw((s) => s.respond(ok, { endStream: true }))).rejects.toMatchObject({ kind: 'internal', message: expect.stringMatching(/without a status/) });
  });

  it('does not wait forever on a server that never answers', async () => {
    const started = Date.now();
    await expect(callRaw(() => {}, { timeoutMs: 300 })).rejects.toMatchObject({ kind: 'transient', message: expect.stringMatching(/deadline of 300 ms/) });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('refuses a non-gRPC content type on an OK status', async () => {
    const err = await callRaw((s) => {
      s.respond({ ':status': 200, 'content-type': 'text/html' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end('<html>');
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'internal', message: expect.stringMatching(/not gRPC/) });
  });
});
