import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandshakeRefusalLog } from '../../controller/transport/HandshakeRefusalLog.js';
import { listenMutualTls, type MutualTlsListener } from '../../controller/transport/listenMutualTls.js';
import type { TlsMaterial } from '../../proto/runtime/tls.js';
import { TestPki } from '../helpers/pki.js';
import { recordingLog } from '../helpers/recordingLog.js';

/** One TLS connection to the listener; resolves once the listener has admitted it, with the session ticket(s) it sent. */
function dial(port: number, tls: TlsMaterial, session?: Buffer): Promise<{ reused: boolean; tickets: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const tickets: Buffer[] = [];
    let reused = false;
    const socket = connect({ host: '127.0.0.1', port, ca: tls.ca, cert: tls.cert, key: tls.key, servername: 'localhost', ALPNProtocols: ['h2'], ...(session ? { session } : {}) });
    socket.on('secureConnect', () => (reused = socket.isSessionReused()));
    socket.on('session', (s: Buffer) => tickets.push(s));
    socket.on('error', reject);
    // The listener ends each admitted connection (below); TLS 1.3 tickets arrive before that.
    socket.on('data', () => {});
    socket.on('close', () => resolve({ reused, tickets }));
  });
}

describe("the controller's TLS listener", () => {
  let pki: TestPki;
  let listener: MutualTlsListener;
  const admitted: string[] = [];

  beforeAll(async () => {
    pki = new TestPki();
    listener = await listenMutualTls({
      host: '127.0.0.1',
      port: 0,
      tls: pki.controller(),
      refusals: new HandshakeRefusalLog(recordingLog().log),
      onConnection: (socket: TLSSocket) => {
        admitted.push(socket.getPeerX509Certificate()?.subject ?? '');
        setTimeout(() => socket.end(), 50);
      },
    });
  });
  afterAll(async () => {
    await listener.close({ destroy: true });
    pki.cleanup();
  });

  it('never resumes a session: every connection shows its certificate in a full handshake', async () => {
    const agent = pki.agent('web-01');
    const first = await dial(listener.port, agent);
    expect(first.reused).toBe(false);
    // OpenSSL still hands out a ticket (naming a stateful session the listener keeps nowhere). A client
    // that offers it back must get a full handshake and show its certificate again.
    const ticket = first.tickets.at(-1);
    expect(ticket).toBeInstanceOf(Buffer);
    const second = await dial(listener.port, agent, ticket);
    expect(second.reused).toBe(false);
    expect(admitted).toHaveLength(2);
    expect(admitted.every((s) => s.includes('CN=web-01'))).toBe(true);
  });
});
