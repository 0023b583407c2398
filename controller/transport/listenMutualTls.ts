import { constants as cryptoConstants } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { createServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { normaliseSerial } from '../../proto/runtime/peerIdentity.js';
import type { TlsMaterial } from '../../proto/runtime/tls.js';
import type { HandshakeRefusalLog } from './HandshakeRefusalLog.js';

export interface MutualTlsListenerOptions {
  host: string;
  port: number;
  tls: TlsMaterial;
  /**
   * Takes every connection whose client certificate the CA signed, with that certificate read once
   * (Node builds it afresh on each call, three fingerprints included: a tenth of a reconnection's CPU).
   */
  onConnection: (socket: TLSSocket, cert: PeerCertificate) => void;
  refusals: HandshakeRefusalLog;
  /** A handshake not finished within this is dropped (and logged); default 10 s. */
  handshakeTimeoutMs?: number;
}

/** One admitted connection, for the revocation sweep. */
export interface AdmittedConnection {
  peer: string;
  serial: string;
}

export interface MutualTlsListener {
  /** The port actually bound (useful with port 0). */
  port: number;
  /**
   * Destroys admitted connections whose certificate serial `refused` turns
   * down and that were already seen refused by a previous call at least
   * `graceMs` earlier, so the calls on them get the chance to end with
   * their own status first. Returns the connections destroyed.
   */
  dropRefused(refused: (serial: string) => string | undefined, graceMs: number): (AdmittedConnection & { reason: string })[];
  /** Stops accepting (idempotent); with `destroy`, also ends every connection still open and waits for them. */
  close(opts?: { destroy?: boolean }): Promise<void>;
}

/**
 * The controller's TLS listener. grpc-js does not let a caller see its
 * TLS server, so refused handshakes left no trace: here Node's TLS server
 * is Cordon's own, and each connection that passes is handed to grpc-js
 * through its public connection injector (which serves HTTP/2 on it; the
 * calls still see the TLS socket, so peer certificates work as before).
 *
 * A connection is admitted only when the client presented a certificate
 * that chains to the Cordon CA (`requestCert`; the verdict is OpenSSL's,
 * read from `authorized`). Everything else is destroyed before a byte of
 * HTTP/2 is read, and logged through `refusals` with the source address and
 * the reason. `rejectUnauthorized` is off only so that this check, and its
 * log line, happen here with the socket still open.
 */
export async function listenMutualTls(opts: MutualTlsListenerOptions): Promise<MutualTlsListener> {
  const admitted = new Map<TLSSocket, AdmittedConnection & { refusedSince?: number }>();
  // Every TCP connection by "address:port", handshaking or admitted: the
  // address is read when it arrives, because a peer that hangs up
  // mid-handshake leaves none on its TLS socket.
  const connections = new Map<string, { socket: Socket; address: string; port: number | undefined; settled: boolean }>();
  const keyOf = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined }) => `${s.remoteAddress}:${s.remotePort}`;
  /** Marks the TCP connection under `socket` as logged or admitted, so its close is not logged again. */
  const settle = (socket: TLSSocket) => {
    const c = connections.get(keyOf(socket));
    if (c) c.settled = true;
  };
  const server = createServer(
    {
      ca: opts.tls.ca,
      cert: opts.tls.cert,
      key: opts.tls.key,
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
      // No session resumption: every connection shows its certificate in a full handshake, never a
      // ticket instead (tlsListenerResumption.test.ts offers one back). No Cordon client resumes (grpc-js
      // keeps no session), and sealing two stateless TLS 1.3 tickets per handshake cost about a quarter
      // of its CPU and ~10 KiB of RSS per connection (BENCHMARKS.md §2). OpenSSL still sends a ticket
      // naming a stateful session, which Node's server keeps nowhere, so it never resumes.
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
    },
    (socket: TLSSocket) => {
      // Errors after the handshake belong to the HTTP/2 session; without a listener Node would throw them.
      socket.on('error', () => {});
      settle(socket);
      const peer = keyOf(socket);
      if (!socket.authorized) {
        const cert = socket.getPeerCertificate();
        opts.refusals.refuse(socket.remoteAddress ?? 'unknown', String(socket.authorizationError ?? 'no client certificate'), {
          port: socket.remotePort,
          ...(cert?.subject ? { subject: cert.subject.CN, issuer: cert.issuer?.CN, serial: normaliseSerial(cert.serialNumber ?? '') } : {}),
        });
        socket.destroy();
        return;
      }
      const cert = socket.getPeerCertificate();
      const serial = normaliseSerial(cert.serialNumber ?? '');
      admitted.set(socket, { peer, serial });
      socket.once('close', () => admitted.delete(socket));
      opts.onConnection(socket, cert);
    },
  );
  server.on('connection', (socket: Socket) => {
    const key = keyOf(socket);
    connections.set(key, { socket, address: socket.remoteAddress ?? 'unknown', port: socket.remotePort, settled: false });
    socket.once('close', () =>
      // After the TLS layer has said why (tlsClientError comes after this close when the peer hung up).
      setImmediate(() => {
        const c = connections.get(key);
        connections.delete(key);
        if (c && !c.settled) opts.refusals.refuse(c.address, 'ECONNRESET', { port: c.port, detail: 'the client closed the connection during the handshake' });
      }),
    );
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    // Without an address the peer is gone already: its connection's close logs it.
    if (socket.remoteAddress === undefined) return;
    settle(socket);
    opts.refusals.refuse(socket.remoteAddress, err.code ?? err.message, { port: socket.remotePort });
  });

  server.listen({ host: opts.host, port: opts.port });
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
  } catch (err) {
    const where = opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
    throw new CordonError('transient', `cannot listen on ${where}: ${(err as Error).message}`, { field: 'listen', cause: err });
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  let closed: Promise<void> | undefined;
  const stopAccepting = () => (closed ??= new Promise<void>((resolve) => server.close(() => resolve())));

  return {
    port,
    dropRefused(refused, graceMs) {
      const now = Date.now();
      const dropped: (AdmittedConnection & { reason: string })[] = [];
      for (const [socket, c] of admitted) {
        const reason = refused(c.serial);
        if (!reason) continue;
        c.refusedSince ??= now;
        if (now - c.refusedSince < graceMs) continue;
        socket.destroy();
        admitted.delete(socket);
        dropped.push({ peer: c.peer, serial: c.serial, reason });
      }
      return dropped;
    },
    async close({ destroy = false } = {}) {
      const done = stopAccepting();
      if (!destroy) return;
      for (const socket of admitted.keys()) socket.destroy();
      for (const c of connections.values()) c.socket.destroy();
      await done;
    },
  };
}
