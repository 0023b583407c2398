import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type RunningController } from '../../controller/createController.js';
import { StaticInventory } from '../../controller/inventory/Inventory.js';
import { AgentMessage, ControllerMessage } from '../../proto/gen/cordon/v1/agent.js';
import { frameMessage } from '../../proto/runtime/grpcHttp2.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import type { TlsMaterial } from '../../proto/runtime/tls.js';
import { host } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';

// The controller serves agents' connections on node's own HTTP/2
// (controller/transport/AgentStreamServer.ts). Here a raw HTTP/2 client with
// an agent's certificate says what a customer with root on the server could
// say instead of the agent; grpc-js agents are covered by agentLink.test.ts.

interface RawCall {
  headers: Promise<IncomingHttpHeaders>;
  /** The status, from the trailers or a Trailers-Only answer's headers. */
  status: Promise<{ code: number; message: string; httpStatus: number }>;
  messages: ControllerMessage[];
  write(bytes: Buffer): void;
  end(): void;
  reset(): void;
}

function dial(tls: TlsMaterial, port: number): ClientHttp2Session {
  const session = connect(`https://127.0.0.1:${port}`, { ca: tls.ca, cert: tls.cert, key: tls.key, servername: 'localhost', checkServerIdentity: () => undefined });
  session.on('error', () => {});
  return session;
}

function open(session: ClientHttp2Session, path: string, extra: Record<string, string> = {}): RawCall {
  const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...extra });
  stream.on('error', () => {});
  const messages: ControllerMessage[] = [];
  let pending = Buffer.alloc(0);
  let httpStatus = 0;
  let fromHeaders: { code: number; message: string } | undefined;
  const headers = new Promise<IncomingHttpHeaders>((resolve) =>
    stream.once('response', (h) => {
      httpStatus = Number(h[':status']);
      if (h['grpc-status'] !== undefined) fromHeaders = { code: Number(h['grpc-status']), message: decodeURIComponent(String(h['grpc-message'] ?? '')) };
      resolve(h);
    }),
  );
  const status = new Promise<{ code: number; message: string; httpStatus: number }>((resolve) => {
    stream.once('trailers', (t) => resolve({ code: Number(t['grpc-status']), message: decodeURIComponent(String(t['grpc-message'] ?? '')), httpStatus }));
    stream.once('close', () => resolve({ ...(fromHeaders ?? { code: -1, message: `closed with ${stream.rstCode}` }), httpStatus }));
  });
  stream.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const length = pending.readUInt32BE(1);
      messages.push(ControllerMessage.decode(pending.subarray(5, 5 + length)));
      pending = pending.subarray(5 + length);
    }
  });
  return {
    headers,
    status,
    messages,
    write: (bytes) => stream.write(bytes),
    end: () => stream.end(),
    reset: () => stream.close(constants.NGHTTP2_CANCEL),
  };
}

const hello = (hostId: string) =>
  frameMessage(AgentMessage.encode({ body: { $case: 'hello', value: { hostId, agentVersion: 'raw-h2', interfaces: [], generation: 0n, observedDigest: '', heartbeatIntervalMs: 1_000, restrictedHeartbeatIntervalMs: 0 } } }).finish());

describe("the controller's agent connections on node's HTTP/2", () => {
  let pki: TestPki;
  let controller: RunningController;
  const sessions: ClientHttp2Session[] = [];
  const certs = new Map<string, TlsMaterial>();
  const dialAgent = (hostId = 'web-01') => {
    if (!certs.has(hostId)) certs.set(hostId, pki.agent(hostId));
    const s = dial(certs.get(hostId)!, controller.port);
    sessions.push(s);
    return s;
  };

  beforeAll(async () => {
    pki = new TestPki();
    controller = await startController({
      listen: '127.0.0.1:0',
      tls: pki.controller(),
      revokedSerialsFile: pki.revokedFile,
      inventory: new StaticInventory([host('web-01', 1), host('web-02', 2), host('web-03', 3), host('web-04', 4)]),
      // A connection silent for (1 + 1) × 1 s is closed: short, for the silent-peer test.
      staleAfterMissedHeartbeats: 1,
      maxHeartbeatMs: 1_000,
      pingIntervalMs: 30_000,
      helloTimeoutMs: 2_000,
      log: silentLogger(),
    });
  });
  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await controller?.stop(500);
    pki?.cleanup();
  });

  it('takes a Hello, answers with a ping, and ends with OK when the agent half-closes', async () => {
    const call = open(dialAgent(), '/cordon.v1.AgentService/Connect');
    call.write(hello('web-01'));
    await waitFor('the first ping', () => call.messages.some((m) => m.body?.$case === 'ping'));
    expect(controller.sessions.get('web-01')).toMatchObject({ state: 'connected', agentVersion: 'raw-h2' });
    call.end();
    expect(await call.status).toMatchObject({ code: 0, httpStatus: 200 });
    await waitFor('the session closed', () => controller.sessions.get('web-01')?.state === 'disconnected');
  });

  it('takes heartbeats as they come, never ahead of a message still waiting, and none from a certificate revoked meanwhile', async () => {
    const call = open(dialAgent('web-04'), '/cordon.v1.AgentService/Connect');
    call.write(hello('web-04'));
    await waitFor('the first ping', () => call.messages.some((m) => m.body?.$case === 'ping'));
    const heartbeat = (generation: bigint, observedDigest: string) =>
      frameMessage(AgentMessage.encode({ body: { $case: 'heartbeat', value: { generation, observedDigest, pingNonce: 0n } } }).finish());
    call.write(heartbeat(0n, 'beat-1'));
    await waitFor('the heartbeat taken', () => controller.sessions.get('web-04')?.observedDigest === 'beat-1');
    // A report and the heartbeat after it in one write: the report waits for the stream's reader, so the
    // heartbeat must wait behind it too, or the older report would overwrite what the heartbeat says.
    const report = frameMessage(AgentMessage.encode({ body: { $case: 'report', value: { appliedGeneration: 0n, observedDigest: 'report', results: [], error: '', driftRepairs: 0n } } }).finish());
    call.write(Buffer.concat([report, heartbeat(0n, 'beat-2')]));
    await waitFor('both taken', () => controller.sessions.get('web-04')?.observedDigest === 'beat-2', 5_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(controller.sessions.get('web-04')?.observedDigest).toBe('beat-2');
    // Revoked: the next heartbeat is not taken, and the stream ends PERMISSION_DENIED.
    pki.run('revoke', join(pki.dir, 'agent-web-04.crt'));
    call.write(heartbeat(0n, 'after-revocation'));
    expect(await call.status).toMatchObject({ code: 7, message: expect.stringMatching(/revoked/) });
    expect(controller.sessions.get('web-04')).toMatchObject({ state: 'disconnected', observedDigest: 'beat-2' });
  });

  it('ends the stream with INTERNAL on a compressed message and takes nothing from it', async () => {
    const call = open(dialAgent(), '/cordon.v1.AgentService/Connect');
    const frame = hello('web-01');
    frame.writeUInt8(1, 0);
    call.write(frame);
    expect(await call.status).toMatchObject({ code: 13, message: expect.stringMatching(/compressed message/) });
  });

  it('refuses a length prefix over the 4 MiB limit before reading the body (RESOURCE_EXHAUSTED)', async () => {
    const call = open(dialAgent(), '/cordon.v1.AgentService/Connect');
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(64 * 1024 * 1024, 1);
    call.write(prefix);
    expect(await call.status).toMatchObject({ code: 8, message: expect.stringMatching(/67108864 bytes, over the limit of 4194304/) });
  });

  it('ends the stream with INVALID_ARGUMENT on bytes that are not an AgentMessage', async () => {
    const call = open(dialAgent(), '/cordon.v1.AgentService/Connect');
    call.write(frameMessage(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])));
    expect(await call.status).toMatchObject({ code: 3, message: expect.stringMatching(/cannot decode a message/) });
  });

  it("refuses every method but Connect and Health/Check on an agent's connection, and non-gRPC requests", async () => {
    const session = dialAgent();
    const desk = open(session, '/cordon.v1.DeskService/ListHosts');
    desk.end();
    expect(await desk.status).toMatchObject({ code: 7, message: expect.stringMatching(/operator certificates only/) });
    const unknown = open(session, '/cordon.v1.AgentService/Exfiltrate');
    unknown.end();
    expect(await unknown.status).toMatchObject({ code: 12, message: expect.stringMatching(/not served on an agent's connection/) });
    const plain = open(session, '/cordon.v1.AgentService/Connect', { 'content-type': 'text/plain' });
    plain.end();
    expect((await plain.status).httpStatus).toBe(415);
  });

  it('answers a health check, and refuses one that is not a small HealthCheckRequest', async () => {
    const session = dialAgent();
    const ok = open(session, '/grpc.health.v1.Health/Check');
    ok.write(frameMessage(new Uint8Array()));
    ok.end();
    expect(await ok.status).toMatchObject({ code: 0 });
    const huge = open(session, '/grpc.health.v1.Health/Check');
    huge.write(frameMessage(Buffer.alloc(4096, 0x0a)));
    huge.end();
    expect(await huge.status).toMatchObject({ code: 3, message: expect.stringMatching(/over 1024 bytes/) });
  });

  it('ends the session of an agent whose stream is reset', async () => {
    const call = open(dialAgent('web-02'), '/cordon.v1.AgentService/Connect');
    call.write(hello('web-02'));
    await waitFor('web-02 connected', () => controller.sessions.get('web-02')?.state === 'connected');
    call.reset();
    await waitFor('web-02 disconnected', () => controller.sessions.get('web-02')?.state === 'disconnected');
  });

  it('holds at most four connections per agent certificate, closing the oldest for a new one', async () => {
    const opened: { session: ClientHttp2Session; closed: boolean }[] = [];
    for (let i = 0; i < 6; i++) {
      const session = dialAgent('web-02');
      const entry = { session, closed: false };
      session.once('close', () => (entry.closed = true));
      await new Promise<void>((resolve) => session.once('connect', () => resolve()));
      opened.push(entry);
      // A request makes sure the controller has taken the connection before the next one.
      const health = open(session, '/grpc.health.v1.Health/Check');
      health.write(frameMessage(new Uint8Array()));
      health.end();
      await health.status;
    }
    await waitFor('the two oldest closed', () => opened[0]!.closed && opened[1]!.closed);
    expect(opened.slice(2).map((o) => o.closed)).toEqual([false, false, false, false]);
    // The newest still serves the agent.
    const call = open(opened[5]!.session, '/cordon.v1.AgentService/Connect');
    call.write(hello('web-02'));
    await waitFor('web-02 connected on the newest', () => controller.sessions.get('web-02')?.state === 'connected');
    call.end();
    await call.status;
  });

  it('closes a connection on which nothing arrives (no stream, no ping) after the idle limit', async () => {
    const session = dialAgent('web-03');
    const closed = new Promise<number>((resolve) => session.once('close', () => resolve(Date.now())));
    await new Promise<void>((resolve) => session.once('connect', () => resolve()));
    const opened = Date.now();
    const at = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
    expect(at).not.toBe(-1);
    // Idle limit 2 s, swept at most every 2 s.
    expect(at - opened).toBeGreaterThanOrEqual(1_900);
  });
});
