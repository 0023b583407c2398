import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentServiceService, type AgentMessage, type ControllerMessage } from '../../proto/gen/cordon/v1/agent.js';
import type { TlsMaterial } from '../../proto/runtime/tls.js';
import { testLink } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';

/**
 * The agent's connect timeout is for a controller that is not there (an
 * address that drops packets, a process that never finishes the handshake).
 * One that finished the handshake and is slow to accept the Hello (a fleet
 * reconnecting at once) is waited for: giving up on it would throw its work
 * away and dial again into the same crowd.
 */
describe('the agent waits longer for a busy controller than for a missing one', () => {
  let pki: TestPki;
  let agent: TlsMaterial;
  let server: Server;
  let port: number;
  /** How long the server sits on a Hello before answering it (Infinity: never). */
  let answerAfterMs = 0;
  let hellos = 0;

  beforeAll(async () => {
    pki = new TestPki();
    agent = pki.agent('web-01');
    const material = pki.controller();
    server = new Server();
    server.addService(AgentServiceService, {
      connect: (call: ServerDuplexStream<AgentMessage, ControllerMessage>) => {
        call.on('error', () => {});
        call.once('data', () => {
          hellos++;
          if (answerAfterMs === Infinity) return;
          const t = setTimeout(() => call.write({ body: { $case: 'ping', value: { nonce: 1n, sentAt: new Date(), reconnectSpreadMs: 0 } } }), answerAfterMs);
          call.on('cancelled', () => clearTimeout(t));
        });
        call.on('end', () => call.end());
      },
    });
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createSsl(material.ca, [{ private_key: material.key, cert_chain: material.cert }], true), (err, p) => (err ? reject(err) : resolve(p))),
    );
  });
  afterAll(() => {
    server?.forceShutdown();
    pki?.cleanup();
  });

  it('keeps a dial whose connection is up past the connect timeout, until the controller answers', async () => {
    answerAfterMs = 1_500;
    hellos = 0;
    const { link } = testLink(agent, port, 'web-01', { connectTimeoutMs: 500, helloAnswerTimeoutMs: 5_000 });
    link.start();
    try {
      await waitFor('connected', () => link.status().connected, 5_000);
      // One dial, answered after three connect timeouts' worth: nothing was given up.
      expect(hellos).toBe(1);
      expect(link.status().failedAttempts).toBe(0);
    } finally {
      await link.stop();
    }
  });

  it('gives up on a controller that never answers after the longer wait, and says how long it waited', async () => {
    answerAfterMs = Infinity;
    hellos = 0;
    // A connect timeout a loaded CI machine's handshake fits in (at 300 ms one run in many dialled twice).
    const { link } = testLink(agent, port, 'web-01', { connectTimeoutMs: 1_000, helloAnswerTimeoutMs: 2_500, backoff: { initialMs: 10_000, maxMs: 10_000 } });
    const started = performance.now();
    link.start();
    try {
      await waitFor('the first attempt failed', () => link.status().failedAttempts >= 1, 8_000);
      expect(performance.now() - started).toBeGreaterThan(2_400);
      expect(link.status().lastError).toBe('no answer to the Hello within 2500 ms');
      expect(hellos).toBe(1);
    } finally {
      await link.stop();
    }
  });
});
