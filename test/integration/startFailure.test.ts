import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runController } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { customerWebSettings } from '../../controller/web/customer/customerWebSettings.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { freePort } from '../helpers/freePort.js';
import { TestPki } from '../helpers/pki.js';

/**
 * A controller whose gRPC port is taken fails to start, and leaves nothing
 * behind: the customer page it had already opened is closed again (its port
 * can be bound), and so are the page's read connections (the store closes).
 */
describe('a failed start', () => {
  let pki: TestPki;
  let work: string;
  let squatter: Server;
  let grpcPort: number;

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-start-failure-'));
    squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    grpcPort = (squatter.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => squatter.close(r));
    pki?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('with the gRPC port taken: refused, and the customer page already opened is closed again', async () => {
    const store = await Store.open(join(work, 'cordon.db'));
    const pagePort = await freePort();
    const customerWeb = customerWebSettings({
      listen: `127.0.0.1:${pagePort}`,
      publicUrl: `http://127.0.0.1:${pagePort}`,
      tls: { cert: '', key: '' },
      trustProxy: [],
      badTokensPerMinute: 10,
      maxFiles: 5,
      maxFileBytes: 1024,
    });
    const start = runController(
      controllerSettings(pki, store, {
        listen: `127.0.0.1:${grpcPort}`,
        customerLinks: { secret: randomBytes(32), publicUrl: `http://127.0.0.1:${pagePort}`, ttlDays: 30 },
        customerWeb,
      }),
    );
    await expect(start).rejects.toThrow();
    // The page's port is free again: nothing of the failed start listens on it.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(pagePort, '127.0.0.1', () => resolve()));
    await new Promise((r) => probe.close(r));
    await store.close();
  });
});
