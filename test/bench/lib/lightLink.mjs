// A light simulated agent for the fleet benchmarks: the same conversation as
// agent/link/ControllerLink.ts on the wire -- its own mutual-TLS connection
// and HTTP/2 session, one AgentService.Connect stream, Hello, heartbeats,
// keepalive pings every 20 s, a report for every desired state, the agent's
// own backoff and redial spread -- spoken with node's http2 module and gRPC's
// length-prefixed framing by hand instead of a grpc-js channel per agent.
//
// Why: at 10,000 agents, ten processes of grpc-js clients took the two cores
// of the benchmark machine from the controller they were meant to load (58 s
// of CPU in a 41 s storm; on 2026-12-06 no handshake finished at all). What
// the controller sees is unchanged: a TLS 1.3 handshake with the agent's
// certificate (no session resumption, as grpc-js does none), an HTTP/2
// connection, the gRPC call and its messages, pings at the agent's rate.
// What is left out is client-side machinery (resolver, subchannel pool,
// per-call interceptors and filters) that costs only the simulated side.
import http2 from 'node:http2';
import { createSecureContext } from 'node:tls';
import { AgentMessage, ControllerMessage } from '../../../dist/proto/gen/cordon/v1/agent.js';
import { backoffDelay, firstRedialDelay } from '../../../dist/agent/link/backoff.js';

const PATH = '/cordon.v1.AgentService/Connect';
/** The agent's keepalive (proto/runtime/rpcClient.ts): a ping every 20 s, answered within 10 s. */
const KEEPALIVE_MS = 20_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 15_000;
const HELLO_ANSWER_TIMEOUT_MS = 120_000;

const frame = (msg) => {
  const body = AgentMessage.encode(msg).finish();
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = 0;
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
};

export class LightLink {
  /**
   * @param {object} o hostId, agentVersion, addresses (host:port, one or more), serverName,
   *   tls {ca, key, cert}, heartbeatMs, keepaliveMs (default the agent's 20 s), backoff {initialMs, maxMs, spreadMs},
   *   held() -> {generation, observedDigest, interfaces}, onDesiredState(state) -> report,
   *   onConnected(address)
   */
  constructor(o) {
    this.o = o;
    this.state = { connected: false, sessions: 0, failedAttempts: 0, lastError: undefined };
    this.stopping = false;
    this.at = Math.floor(Math.random() * o.addresses.length);
    this.triedInRound = 0;
    this.round = 0;
    this.end = undefined;
  }

  status() {
    return { ...this.state };
  }

  start() {
    this.running ??= this.loop();
  }

  async stop() {
    this.stopping = true;
    clearTimeout(this.sleepTimer);
    this.wake?.();
    this.end?.(true);
    await this.running;
  }

  async loop() {
    while (!this.stopping) {
      const address = this.o.addresses[this.at];
      const failure = await this.session(address);
      const established = this.state.connected;
      this.state.connected = false;
      if (this.stopping) break;
      if (failure) this.state.lastError = failure;
      let delay;
      if (established) {
        this.at = (this.at + 1) % this.o.addresses.length;
        this.triedInRound = 0;
        delay = firstRedialDelay(this.o.backoff, Math.random, this.toldSpreadMs ?? 0);
      } else {
        this.state.failedAttempts++;
        this.at = (this.at + 1) % this.o.addresses.length;
        if (++this.triedInRound < this.o.addresses.length) delay = 0;
        else {
          this.triedInRound = 0;
          delay = backoffDelay(this.round++, this.o.backoff);
        }
      }
      await new Promise((r) => {
        this.wake = r;
        this.sleepTimer = setTimeout(r, delay);
      });
    }
  }

  /** One stream from dial to end; resolves with why it ended (undefined: a clean end). */
  session(address) {
    return new Promise((resolveSession) => {
      const o = this.o;
      this.state.sessions++;
      const timers = [];
      let done = false;
      let buffered = Buffer.alloc(0);
      let req;
      // One context per agent for all its dials: building one costs the simulated side 1.2 ms (PEM, keys, the CA
      // store), which in a storm of 30,000 dials took the cores from the controller it was meant to load. The
      // handshake itself, what the controller sees, is the same for a fresh or a reused context (no tickets).
      this.secureContext ??= createSecureContext({ ca: o.tls.ca, key: o.tls.key, cert: o.tls.cert, minVersion: 'TLSv1.3' });
      const session = http2.connect(`https://${address}`, {
        secureContext: this.secureContext,
        servername: o.serverName,
        minVersion: 'TLSv1.3',
      });
      const finish = (why) => {
        if (done) return;
        done = true;
        for (const t of timers) {
          if (t && typeof t === 'object' && 'beat' in t) {
            clearTimeout(t.beat);
            clearTimeout(t.keepalive);
          } else clearTimeout(t);
        }
        this.end = undefined;
        if (why === true) {
          // A clean stop: half-close, as the real link does, then let the session go.
          try { req?.end(); } catch { /* already closed */ }
          setTimeout(() => session.destroy(), 2_000).unref();
          resolveSession(undefined);
          return;
        }
        session.destroy();
        resolveSession(why);
      };
      this.end = finish;
      // No answer to the Hello in time: longer once the connection is up (a busy controller), as ControllerLink does.
      timers.push(setTimeout(() => {
        if (this.state.connected) return;
        if (!session.connecting && !session.destroyed) timers.push(setTimeout(() => !this.state.connected && finish(`no answer to the Hello within ${HELLO_ANSWER_TIMEOUT_MS} ms`), HELLO_ANSWER_TIMEOUT_MS - CONNECT_TIMEOUT_MS));
        else finish(`no answer to the Hello within ${CONNECT_TIMEOUT_MS} ms`);
      }, CONNECT_TIMEOUT_MS));
      session.on('error', (err) => finish(err.code ?? err.message));
      session.on('goaway', () => finish('goaway'));
      session.on('close', () => finish('session closed'));
      // As ControllerLink: heartbeats at the restricted interval while a restriction is held, keepalives every max(20 s, that).
      const interval = () => (o.held().restricted ? Math.min(o.restrictedHeartbeatMs ?? o.heartbeatMs, o.heartbeatMs) : o.heartbeatMs);
      const live = { beat: undefined, keepalive: undefined, every: 0 };
      timers.push(live);
      const keepalive = () => {
        live.keepalive = setTimeout(keepalive, o.keepaliveMs ?? Math.max(KEEPALIVE_MS, interval()));
        if (session.destroyed) return;
        const t = setTimeout(() => finish('keepalive timeout'), KEEPALIVE_TIMEOUT_MS);
        session.ping((err) => (err ? finish('keepalive failed') : clearTimeout(t)));
      };
      live.keepalive = setTimeout(keepalive, o.keepaliveMs ?? Math.max(KEEPALIVE_MS, interval()));

      req = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'cordon-fleet-light' });
      const send = (msg) => {
        if (!done && req.writable) req.write(frame(msg));
      };
      const status = (headers) => {
        const code = headers['grpc-status'];
        if (code !== undefined) finish(code === '0' ? undefined : `grpc status ${code}: ${decodeURIComponent(headers['grpc-message'] ?? '')}`);
      };
      req.on('response', status);
      req.on('trailers', status);
      req.on('error', (err) => finish(err.code ?? err.message));
      req.on('close', () => finish(req.rstCode ? `stream reset ${req.rstCode}` : undefined));
      let queue = Promise.resolve();
      req.on('data', (chunk) => {
        buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
        while (buffered.length >= 5) {
          const len = buffered.readUInt32BE(1);
          if (buffered.length < 5 + len) break;
          const msg = ControllerMessage.decode(buffered.subarray(5, 5 + len));
          buffered = buffered.subarray(5 + len);
          if (!this.state.connected) {
            this.state.connected = true;
            this.state.failedAttempts = 0;
            this.state.lastError = undefined;
            this.round = 0;
            this.triedInRound = 0;
            o.onConnected?.(address);
          }
          if (msg.body?.$case === 'ping') {
            // Admission pacing, as ControllerLink honours it.
            this.toldSpreadMs = msg.body.value.reconnectSpreadMs;
            heartbeat(msg.body.value.nonce);
          }
          else if (msg.body?.$case === 'desiredState') {
            const state = msg.body.value;
            queue = queue.then(async () => {
              send({ body: { $case: 'report', value: await o.onDesiredState(state) } });
              if (interval() !== live.every) {
                clearTimeout(live.beat);
                beat();
              }
            });
          }
        }
      });
      const heartbeat = (pingNonce) => {
        const held = o.held();
        send({ body: { $case: 'heartbeat', value: { sentAt: new Date(), generation: held.generation, observedDigest: held.observedDigest, pingNonce } } });
      };
      const held = o.held();
      const restrictedMs = Math.min(o.restrictedHeartbeatMs ?? o.heartbeatMs, o.heartbeatMs);
      send({ body: { $case: 'hello', value: { hostId: o.hostId, agentVersion: o.agentVersion, interfaces: held.interfaces, generation: held.generation, observedDigest: held.observedDigest, heartbeatIntervalMs: o.heartbeatMs, restrictedHeartbeatIntervalMs: restrictedMs } } });
      const beat = () => {
        if (done) return;
        live.every = interval();
        live.beat = setTimeout(() => {
          heartbeat(0n);
          beat();
        }, live.every);
      };
      beat();
    });
  }
}
