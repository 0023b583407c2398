import { connect as connectTcp } from 'node:net';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../../controller/createController.js';
import { host, startTestController, testLink } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { recordingLog } from '../helpers/recordingLog.js';
import { waitFor } from '../helpers/waitFor.js';

describe('refused TLS handshakes in the controller log', () => {
  let pki: TestPki;
  let other: TestPki;
  let controller: RunningController;
  const { log, lines } = recordingLog();
  const refusals = () => lines.filter((l) => l.msg === 'TLS handshake refused');

  beforeAll(async () => {
    pki = new TestPki();
    other = new TestPki();
    controller = await startTestController(pki, [host('web-01', 1)], { log });
  });
  afterAll(async () => {
    await controller?.stop(500);
    pki?.cleanup();
    other?.cleanup();
  });

  /** A bare TLS client from `localAddress` (any 127/8 address is loopback on Linux). */
  function handshake(localAddress: string, extra: { key?: Buffer; cert?: Buffer } = {}): Promise<void> {
    return new Promise<void>((resolve) => {
      const tcp = connectTcp({ host: '127.0.0.1', port: controller.port, localAddress });
      const socket = connect({ socket: tcp, ca: pki.controller().ca, servername: 'localhost', ALPNProtocols: ['h2'], ...extra });
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
    });
  }

  it('logs a certificate from another CA with the source address, once a minute per address, and counts the rest', async () => {
    // An agent of another PKI: it does not trust this controller either, and hangs up mid-handshake.
    const { link } = testLink(other.agent('web-01'), controller.port, 'web-01');
    link.start();
    try {
      await waitFor('several refused attempts', () => link.status().failedAttempts >= 3);
    } finally {
      await link.stop();
    }
    expect(link.status().connected).toBe(false);
    expect(controller.sessions.get('web-01')).toBeUndefined();
    // One line for 127.0.0.1 however often it tried within the minute.
    await waitFor('the line', () => refusals().length === 1);
    expect(refusals()[0]).toMatchObject({ level: 40, component: 'tls', peer: '127.0.0.1', reason: 'ECONNRESET' });

    // A client that trusts this controller but shows a certificate of another CA: refused with OpenSSL's verdict.
    const foreign = other.operator('mallory', 'admin');
    await handshake('127.0.0.2', { key: foreign.key, cert: foreign.cert });
    await waitFor('the line for 127.0.0.2', () => refusals().find((l) => l.peer === '127.0.0.2'));
    expect(refusals().find((l) => l.peer === '127.0.0.2')).toMatchObject({ reason: expect.stringMatching(/^[A-Z_]+$/), subject: 'mallory' });

    // No certificate at all.
    await handshake('127.0.0.3');
    await waitFor('the line for 127.0.0.3', () => refusals().find((l) => l.peer === '127.0.0.3'));

    // Again from 127.0.0.2 within the minute: counted, not logged.
    await handshake('127.0.0.2', { key: foreign.key, cert: foreign.cert });
    await new Promise((r) => setTimeout(r, 100));
    expect(refusals()).toHaveLength(3);
    await controller.stop(500);
    const summary = lines.find((l) => l.msg.startsWith('TLS handshakes refused since the last summary'));
    expect(summary).toMatchObject({ addresses: 3 });
    expect(summary!.notLogged as number).toBeGreaterThanOrEqual(3);
    expect(summary!.refused as number).toBe((summary!.notLogged as number) + 3);
  });
});
