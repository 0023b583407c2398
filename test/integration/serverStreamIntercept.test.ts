import { connect, createServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptBidi, type ServerCall } from '../../controller/transport/grpcServerStream.js';
import { frameMessage } from '../../proto/runtime/grpcHttp2.js';

/*
 * BidiStream.intercept on the server's own gRPC stream (grpcServerStream.ts),
 * over a real HTTP/2 connection on loopback: what the taker takes never
 * reaches the reader, nothing is taken ahead of a message still waiting for
 * the reader, and a taker that throws has taken nothing.
 */

const text = (s: string) => frameMessage(Buffer.from(s));

describe('a server stream with a taker for frequent messages', () => {
  let server: Http2Server;
  let port: number;
  const calls: ServerCall<string, string>[] = [];
  const taken: string[] = [];

  beforeAll(async () => {
    server = createServer();
    server.on('stream', (h2: ServerHttp2Stream) => {
      const call = acceptBidi<string, string>(h2, { deserialize: (b) => Buffer.from(b).toString(), serialize: (m) => Buffer.from(m), maxMessageBytes: 1024 });
      call.stream.intercept?.((m) => {
        if (m === 'boom') throw new Error('the taker failed');
        if (!m.startsWith('hb')) return false;
        taken.push(m);
        return true;
      });
      calls.push(call);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('keeps what it takes from the reader, in order behind a message still waiting, and gives the reader what a throwing taker failed on', async () => {
    const session = connect(`http://127.0.0.1:${port}`);
    const req = session.request({ ':method': 'POST', ':path': '/x', 'content-type': 'application/grpc' });
    req.on('error', () => {});
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      await new Promise((r) => req.once('response', r));
      const call = calls.at(-1)!;
      const reader = call.stream.requests[Symbol.asyncIterator]();

      req.write(text('hb-1'));
      await wait(100);
      expect(taken).toEqual(['hb-1']);

      // The reader has not asked for 'report' yet: the heartbeat behind it in the same write waits too.
      req.write(Buffer.concat([text('report'), text('hb-2')]));
      await wait(100);
      expect(taken).toEqual(['hb-1']);
      expect((await reader.next()).value).toBe('report');
      expect((await reader.next()).value).toBe('hb-2');

      // Queue empty again: taken at once, and the reader (asleep on its next message) is not woken for it.
      const next = reader.next();
      req.write(text('hb-3'));
      await wait(100);
      expect(taken).toEqual(['hb-1', 'hb-3']);
      req.write(text('boom'));
      expect((await next).value).toBe('boom');
      req.end();
      expect((await reader.next()).done).toBe(true);
    } finally {
      session.destroy();
    }
  });
});
