import { createSecureServer, type Http2SecureServer, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Timestamp } from '../../proto/gen/google/protobuf/timestamp.js';
import { frameMessage } from '../../proto/runtime/grpcHttp2.js';
import { openHttp2Bidi } from '../../proto/runtime/Http2Bidi.js';
import { TestPki } from '../helpers/pki.js';

// The agent's stream client (Http2Bidi) against a raw HTTP/2 server saying what a
// broken or hostile peer might; the real controller side is covered by every
// agent-link test (agentLink, pollingLink, hostileAgents, the system tests).

const pki = new TestPki();
const agent = pki.agent('web-01');
let server: Http2SecureServer;
let address: string;
let answer: (stream: ServerHttp2Stream) => void = () => {};

beforeAll(async () => {
  const ctl = pki.controller();
  server = createSecureServer({ ca: ctl.ca, cert: ctl.cert, key: ctl.key, requestCert: true, rejectUnauthorized: true });
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    answer(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  pki.cleanup();
});

const ts = (seconds: bigint) => Buffer.from(Timestamp.encode({ seconds, nanos: 0 }).finish());

async function run(respond: (s: ServerHttp2Stream) => void, opts: { maxMessageBytes?: number; tls?: typeof agent } = {}) {
  answer = respond;
  const call = openHttp2Bidi<Timestamp, Timestamp>({
    address,
    tls: opts.tls ?? agent,
    serverName: 'localhost',
    path: '/cordon.v1.AgentService/Connect',
    serialize: (m) => Timestamp.encode(m).finish(),
    deserialize: (b) => Timestamp.decode(b),
    ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}),
  });
  const got: bigint[] = [];
  try {
    for await (const m of call.responses) got.push(m.seconds);
    return { got, end: 'ok' as const };
  } catch (err) {
    return { got, end: err as Error & { kind: string } };
  } finally {
    call.cancel();
  }
}

const withStatus = (s: ServerHttp2Stream, body: Buffer, status = '0') => {
  s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': status, 'grpc-message': 'bye' }));
  s.end(body);
};

describe('Http2Bidi keepalive', () => {
  it('asks a keepalive function again for each ping, so the interval follows the caller (heartbeats that follow the host)', async () => {
    let pings = 0;
    const onSession = (session: ServerHttp2Session) => session.on('ping', () => pings++);
    server.on('session', onSession);
    answer = (s) => s.respond({ ':status': 200, 'content-type': 'application/grpc' });
    let every = 1_500;
    const call = openHttp2Bidi<Timestamp, Timestamp>({
      address,
      tls: agent,
      serverName: 'localhost',
      path: '/cordon.v1.AgentService/Connect',
      serialize: (m) => Timestamp.encode(m).finish(),
      deserialize: (b) => Timestamp.decode(b),
      keepaliveMs: () => every,
    });
    try {
      await call.send({ seconds: 1n, nanos: 0 });
      await new Promise((r) => setTimeout(r, 1_000));
      expect(pings).toBe(0);
      // The next ping still comes at the old interval; every one after it at the new.
      every = 200;
      await new Promise((r) => setTimeout(r, 1_600));
      expect(pings).toBeGreaterThanOrEqual(4);
      expect(call.connected()).toBe(true);
    } finally {
      call.cancel();
      server.off('session', onSession);
    }
  });
});

describe('Http2Bidi against a broken or hostile server', () => {
  it('reads messages however the bytes are split, and ends cleanly on OK', async () => {
    const r = await run((s) => {
      const all = Buffer.concat([frameMessage(ts(1n)), frameMessage(ts(2n)), frameMessage(ts(3n))]);
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      for (let i = 0; i < all.length; i += 3) s.write(all.subarray(i, i + 3));
      s.end();
    });
    expect(r).toEqual({ got: [1n, 2n, 3n], end: 'ok' });
  });

  it("ends with the server's status, kind kept", async () => {
    const r = await run((s) => withStatus(s, frameMessage(ts(1n)), '7'));
    expect(r.got).toEqual([1n]);
    expect(r.end).toMatchObject({ kind: 'permission', message: 'bye' });
  });

  it('refuses a message longer than its limit from its length prefix, before the bytes arrive', async () => {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(1 << 30, 1);
    const r = await run((s) => withStatus(s, head), { maxMessageBytes: 1024 });
    expect(r.end).toMatchObject({ kind: 'transient', message: expect.stringMatching(/1073741824 bytes .* over the limit of 1024/) });
  });

  it('refuses a compressed message and one that does not decode', async () => {
    const compressed = frameMessage(ts(1n));
    compressed.writeUInt8(1, 0);
    expect((await run((s) => withStatus(s, compressed))).end).toMatchObject({ kind: 'internal', message: expect.stringMatching(/compressed/) });
    expect((await run((s) => withStatus(s, frameMessage(Buffer.from([0xff, 0xff, 0xff]))))).end).toMatchObject({ kind: 'internal', message: expect.stringMatching(/cannot decode/) });
  });

  it('treats an HTTP error or a reset as a failure, never as a clean end', async () => {
    expect((await run((s) => s.respond({ ':status': 503 }, { endStream: true }))).end).toMatchObject({ kind: 'transient' });
    expect((await run((s) => s.close(0x2))).end).toMatchObject({ kind: 'transient' });
    expect((await run((s) => s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { endStream: true }))).end).toMatchObject({ kind: 'transient', message: expect.stringMatching(/without a status/) });
  });

  it('refuses a server whose certificate another CA signed', async () => {
    const other = new TestPki();
    try {
      const r = await run(() => {}, { tls: other.agent('web-01') });
      expect(r.end).toMatchObject({ kind: 'transient', message: expect.stringMatching(/cannot reach .*certificate/i) });
    } finally {
      other.cleanup();
    }
  });
});
