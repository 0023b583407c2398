import { connect as connectTcp, type Socket } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandshakeRefusalLog } from '../../controller/transport/HandshakeRefusalLog.js';
import { listenMutualTls, type MutualTlsListener } from '../../controller/transport/listenMutualTls.js';
import { TestPki } from '../helpers/pki.js';
import { recordingLog } from '../helpers/recordingLog.js';
import { waitFor } from '../helpers/waitFor.js';

/**
 * Admission at the TLS listener: at most `maxHandshakes` handshakes are
 * served at once, and a connection beyond them is closed before its
 * ClientHello is read, so a fleet dialling at once cannot make every
 * handshake outlast its timeout. The ones admitted, and every one after
 * the crowd is gone, go through as before.
 */
describe('the TLS listener admits a bounded number of handshakes at once', () => {
  let pki: TestPki;
  let listener: MutualTlsListener;
  const admitted: TLSSocket[] = [];
  let material: ReturnType<TestPki['agent']>;
  const { log, lines } = recordingLog();

  beforeAll(async () => {
    pki = new TestPki();
    material = pki.agent('web-01');
    listener = await listenMutualTls({
      host: '127.0.0.1',
      port: 0,
      tls: pki.controller(),
      onConnection: (socket) => admitted.push(socket),
      refusals: new HandshakeRefusalLog(log),
      maxHandshakes: 3,
      handshakeTimeoutMs: 3_000,
    });
  });
  afterAll(async () => {
    for (const s of admitted) s.destroy();
    await listener?.close({ destroy: true });
    pki?.cleanup();
  });

  /** A TCP connection that never says hello: a handshake in progress as the server sees it. */
  const stall = () =>
    new Promise<Socket>((resolve, reject) => {
      const s = connectTcp({ host: '127.0.0.1', port: listener.port }, () => resolve(s));
      s.on('error', reject);
    });

  /** A TLS client with an agent's certificate: 'admitted' once its handshake finished, 'shed' when closed before. */
  const agent = () =>
    new Promise<'admitted' | 'shed'>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: listener.port, ca: material.ca, key: material.key, cert: material.cert, servername: 'localhost', ALPNProtocols: ['h2'] });
      socket.once('secureConnect', () => {
        resolve('admitted');
        // Long enough for the server to finish its side (TLS 1.3: it reads the client's Finished after this).
        setTimeout(() => socket.destroy(), 300);
      });
      socket.once('error', () => resolve('shed'));
      socket.once('close', () => resolve('shed'));
    });

  it('closes a connection beyond the limit before any crypto, logs why, and admits again once the crowd is gone', async () => {
    const stalls = await Promise.all([stall(), stall(), stall()]);
    // The server counts a connection when it accepts it: give it the turn to see all three.
    await waitFor('three handshakes in progress', async () => {
      const extra = await stall();
      const closed = await new Promise<boolean>((resolve) => {
        extra.once('close', () => resolve(true));
        setTimeout(() => resolve(false), 300);
      });
      extra.destroy();
      return closed;
    });
    // A real agent now: shed without a byte of TLS from the server.
    let received = 0;
    const probe = await stall();
    probe.on('data', (d: Buffer) => (received += d.length));
    probe.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])); // the start of a ClientHello record
    await new Promise<void>((resolve) => probe.once('close', () => resolve()));
    expect(received).toBe(0);
    expect(await agent()).toBe('shed');
    await waitFor('the refusal line', () => lines.some((l) => l.msg === 'TLS handshake refused' && l.reason === 'EBUSY'));
    expect(lines.find((l) => l.reason === 'EBUSY')).toMatchObject({ peer: '127.0.0.1', detail: expect.stringContaining('3 handshakes in progress') });

    // The crowd leaves (or times out): every slot is free again.
    for (const s of stalls) s.destroy();
    await waitFor('an agent admitted again', async () => (await agent()) === 'admitted');
    const before = admitted.length;
    expect(await Promise.all([agent(), agent(), agent()])).toEqual(['admitted', 'admitted', 'admitted']);
    await waitFor('the three handed on', () => admitted.length >= before + 3);
  });

  it('frees the slot of a handshake that times out', async () => {
    const stalls = await Promise.all([stall(), stall(), stall()]);
    expect(await agent()).toBe('shed');
    // handshakeTimeoutMs 3 s: the server gives up on the three silent ones and serves the next.
    const t0 = Date.now();
    await waitFor('an agent admitted after the timeout', async () => (await agent()) === 'admitted', 8_000, 250);
    expect(Date.now() - t0).toBeGreaterThan(2_000);
    for (const s of stalls) s.destroy();
  });
});
