import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../controller/clock.js';
import { runController, type Controller, type ControllerSettings } from '../../controller/runController.js';
import { openTestStore } from './testStore.js';
import { controllerSettings } from './controllerHarness.js';
import { TestPki } from './pki.js';

export interface DeskResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface DeskRequest {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  /** Another PKI's certificate and key (a foreign CA), or none at all (null). */
  credentials?: { cert: Buffer; key: Buffer } | null;
}

export const T0 = new Date('2026-11-02T09:00:00Z');

/**
 * A whole controller with the desk in the browser on 127.0.0.1, a real PKI
 * from deploy/pki/cordon-pki with operators of every role, an agent and a
 * feed, and a store with one customer's five hosts. `get`/`post` speak real
 * HTTPS with the named certificate, as a browser would.
 */
export class DeskWebLab {
  private constructor(
    readonly pki: TestPki,
    readonly work: string,
    readonly controller: Controller,
    readonly clock: ManualClock,
  ) {}

  /**
   * `settings(work)` adds to or replaces the controller's settings (mail, a
   * BMC driver, a DrillClock); a `clock` there replaces the lab's, and
   * `lab.clock` then moves nothing.
   */
  static async start(opts: { maxEventClients?: number; settings?: (work: string) => Partial<ControllerSettings> } = {}): Promise<DeskWebLab> {
    const pki = new TestPki();
    pki.operator('olga', 'abuse_operator');
    pki.operator('vic', 'viewer');
    pki.operator('tess', 'technician');
    pki.operator('ada', 'admin');
    pki.agent('web-01');
    pki.run('issue-feed', 'shadow');
    const work = mkdtempSync(join(tmpdir(), 'cordon-deskweb-'));
    const store = await openTestStore(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    for (let n = 1; n <= 5; n++) await store.hosts.add({ id: `web-0${n}`, customerId: 'acme', publicPrefixes: [`203.0.113.${n}/32`], managementAddress: `10.255.0.${n}` });
    const clock = new ManualClock(T0);
    const controller = await runController(
      controllerSettings(pki, store, { clock, deskWeb: { listen: '127.0.0.1:0', tls: pki.controller(), maxEventClients: opts.maxEventClients ?? 10 }, ...opts.settings?.(work) }),
    );
    return new DeskWebLab(pki, work, controller, clock);
  }

  get origin(): string {
    return `https://127.0.0.1:${this.controller.deskWebPort}`;
  }

  /** The PEM files of a certificate the PKI issued (`operator-olga`, `agent-web-01`, `feed-shadow`). */
  files(name: string): { certPath: string; keyPath: string } {
    return { certPath: join(this.pki.dir, `${name}.crt`), keyPath: join(this.pki.dir, `${name}.key`) };
  }

  /** One HTTPS request as `who` (a file name in the PKI, e.g. `operator-olga`). */
  request(who: string, path: string, r: DeskRequest = {}): Promise<DeskResponse> {
    const own = this.files(who);
    const creds = r.credentials === undefined ? { cert: readFileSync(own.certPath), key: readFileSync(own.keyPath) } : r.credentials;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: this.controller.deskWebPort,
          path,
          method: r.method ?? 'GET',
          ca: this.pki.controller().ca,
          ...(creds ? { cert: creds.cert, key: creds.key } : {}),
          headers: { ...(r.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(r.body)) } : {}), ...r.headers },
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(r.body);
    });
  }

  /** A complaint about `ip` opens an incident, its notice counts as sent; returns the incident's id. */
  async open(ip: string): Promise<string> {
    const r = await this.controller.service.submitComplaint(
      { ip, category: 'spam', reporter: 'fbl@upstream.example', reporterKind: 'upstream', eventTime: undefined, evidence: `spam from ${ip} <script>alert(1)</script>`, raw: 'spam report' },
      'feed',
    );
    await this.controller.service.apply(r.incidentId!, { type: 'notice_sent' }, 'mail');
    return r.incidentId!;
  }

  /** An incident whose customer says it is fixed: it waits in the queue for an operator's verify. */
  async resolved(ip: string): Promise<string> {
    const id = await this.open(ip);
    await this.controller.service.apply(id, { type: 'customer_fixed' }, 'customer');
    return id;
  }

  async stop(): Promise<void> {
    await this.controller?.stop(500);
    await this.controller?.store.close();
    this.pki.cleanup();
    rmSync(this.work, { recursive: true, force: true });
  }
}

/** The CSRF pair a page hands its browser: the cookie's nonce and the form's field. */
export function csrfOf(page: DeskResponse): { cookie: string; field: string } {
  const setCookie = ([] as string[]).concat(page.headers['set-cookie'] ?? []);
  const cookie = setCookie.map((c) => c.split(';')[0]!).find((c) => c.startsWith('cordon_csrf='));
  const field = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
  if (!cookie || !field) throw new Error(`the page carries no CSRF pair (cookie ${cookie ?? 'none'}, field ${field ?? 'none'})`);
  return { cookie, field };
}
