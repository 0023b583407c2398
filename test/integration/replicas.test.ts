import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ControllerLink } from '../../agent/link/ControllerLink.js';
import { DrillClock } from '../../controller/clock.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { controllerSettings, testLink } from '../helpers/controllerHarness.js';
import { pgMissing, startPgCluster, type PgCluster } from '../helpers/pgCluster.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';

const missing = pgMissing();
if (missing) console.warn(`SKIP test/integration/replicas.test.ts: ${missing}`);

const HOSTS = ['web-01', 'web-02', 'web-03'].map((id, n) => ({ id, customerId: 'acme', publicPrefixes: [`203.0.113.${n + 11}/32`], managementAddress: `10.255.0.${n + 11}` }));

/**
 * Three controller replicas in this process on one PostgreSQL database,
 * each with its own store pool, notification connection and agent
 * listener: what one decides reaches an agent held by another; every
 * replica sees the whole fleet; deadlines fire once; the drill clock is one.
 */
describe.skipIf(missing)('three controller replicas on one PostgreSQL database', () => {
  let pki: TestPki;
  let cluster: PgCluster;
  let admin: pg.Client;
  let made = 0;
  let url: string;
  const replicas: Controller[] = [];
  const links: ControllerLink[] = [];

  const startReplica = async (name: string, clock?: DrillClock): Promise<Controller> => {
    const store = await Store.openUrl(url, { maxConnections: 4 });
    const c = await runController(
      controllerSettings(pki, store, { replica: { url, id: name, listen: 'test', recheckMs: 1_000, fleet: { heartbeatMs: 200, deadAfterMs: 1_500, refreshMs: 500 } }, ...(clock ? { clock } : {}) }),
    );
    replicas.push(c);
    return c;
  };
  const stopReplica = async (c: Controller) => {
    replicas.splice(replicas.indexOf(c), 1);
    await c.stop(200);
    await c.store.close();
  };
  const connect = (c: Controller, hostId: string) => {
    const l = testLink(pki.material(`agent-${hostId}`), c.server.port, hostId);
    links.push(l.link);
    l.link.start();
    return l;
  };

  beforeAll(async () => {
    pki = new TestPki();
    for (const h of HOSTS) pki.agent(h.id);
    cluster = await startPgCluster();
    admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
  }, 120_000);
  beforeEach(async () => {
    const name = `replicas_${++made}`;
    await admin.query(`CREATE DATABASE ${name}`);
    url = cluster.url.replace('/cordon?', `/${name}?`);
    const seed = await Store.openUrl(url, { maxConnections: 1 });
    await seed.customers.upsert({ id: 'acme', name: 'Acme', email: 'ops@acme.example' });
    for (const h of HOSTS) await seed.hosts.add(h);
    await seed.close();
  });
  afterEach(async () => {
    await Promise.all(links.splice(0).map((l) => l.stop()));
    for (const c of [...replicas]) await stopReplica(c);
  });
  afterAll(async () => {
    await admin?.end();
    await cluster?.stop();
    pki?.cleanup();
  });

  it('enforces on the agent held by replica B what replica A decided, and every replica sees where the agent is', async () => {
    const a = await startReplica('replica-a');
    const b = await startReplica('replica-b');
    const c = await startReplica('replica-c');
    const { received } = connect(b, 'web-01');
    await waitFor('web-01 on replica B', () => b.server.sessions.get('web-01')?.state === 'connected');
    // A and C hold no stream for web-01, yet see it connected (at B).
    await waitFor('every replica to see web-01 connected', () => [a, c].every((r) => r.agents.get('web-01')?.state === 'connected'), 5_000);
    expect(a.replica!.agents.replicaOf('web-01')).toBe('replica-b');
    expect(a.agents.get('web-01')).toMatchObject({ state: 'connected', replica: 'replica-b' });
    expect(a.server.sessions.get('web-01')).toBeUndefined();

    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await a.service.enforceHost('web-01', i % 2 === 0 ? { kind: 'smtp_block' } : { kind: 'throttle', rateBps: 1_000_000 + i }, `seen live ${i}`, 'olga');
      const want = BigInt(i + 1);
      await waitFor(`generation ${want} at the agent on B`, () => received.at(-1)?.generation === want, 5_000, 2);
      latencies.push(performance.now() - t0);
    }
    process.stdout.write(`decision on A to the agent on B: ${latencies.map((l) => l.toFixed(1)).join(', ')} ms\n`);
    // Open desk pages on C re-read when A commits anything, not only when agents change.
    await new Promise((r) => setTimeout(r, 600));
    let cHeard = 0;
    c.deskChanges.subscribe(() => cHeard++);
    await a.store.customers.upsert({ id: 'newco', name: 'NewCo', email: 'ops@newco.example' });
    await waitFor('desk pages on C told of A’s commit', () => cHeard > 0, 2_000);
    // What the agent holds is what A decided last: the operator's incident on web-01, a block and the latest throttle, under the last reason.
    const held = received.at(-1)!.enforcements;
    expect(held.map((e) => e.action?.$case).sort()).toEqual(['smtpBlock', 'throttle']);
    expect(held.map((e) => e.reason)).toEqual(['by olga: seen live 4', 'by olga: seen live 4']);
  });

  it('reads an agent held by a replica that stopped answering as disconnected since it was last seen', async () => {
    const a = await startReplica('replica-a');
    const b = await startReplica('replica-b');
    connect(b, 'web-02');
    await waitFor('A to see web-02 connected at B', () => a.agents.get('web-02')?.state === 'connected', 5_000);
    // B's heartbeats stop (as when its process dies) but its rows stay: A must not trust them past deadAfterMs.
    await b.replica!.stop();
    await waitFor('A to see web-02 disconnected', () => a.agents.get('web-02')?.state === 'disconnected', 5_000);
    expect(a.agents.get('web-02')!.disconnectReason).toMatch(/replica replica-b/);
  });

  it('fires each deadline once across three replicas, and moves the drill clock of every replica', async () => {
    const clocks = [new DrillClock(), new DrillClock(), new DrillClock()];
    const [a, b, c] = [await startReplica('replica-a', clocks[0]), await startReplica('replica-b', clocks[1]), await startReplica('replica-c', clocks[2])];
    // Three complaints open three incidents; their notices "go out" (no mail here), which starts the 24 h deadlines.
    for (const h of HOSTS) {
      const ip = h.publicPrefixes[0]!.split('/')[0]!;
      const r = await a.service.submitComplaint({ ip, category: 'spam', reporter: 'soc@cert.example', reporterKind: 'cert', eventTime: undefined, evidence: 'spam run seen', raw: `spam from ${ip}` }, 'olga');
      await a.service.apply(r.incidentId!, { type: 'notice_sent' }, 'mail');
    }
    const open = await a.store.incidents.list({});
    expect(open.length).toBe(HOSTS.length);
    expect(open.every((i) => i.ackDueAt !== undefined)).toBe(true);
    // The clock moves on A as AdvanceClock moves it (audited, then moved); B and C catch up, and all
    // three schedulers find the same deadlines due at once.
    await a.store.audit.append({ at: clocks[0]!.now(), actor: 'olga', action: 'clock.advance', subject: 'controller', detail: { seconds: 25 * 3_600, reason: 'test' } });
    clocks[0]!.advance(25 * 3_600_000);
    await waitFor('B and C to catch up with the drill clock', () => clocks.every((k) => k.offsetMs === 25 * 3_600_000), 10_000);
    for (const r of [a, b, c]) void r.scheduler.kick();
    await waitFor('every incident past its deadline', async () => (await a.store.incidents.list({})).every((i) => i.overdue), 15_000);
    for (const i of open) {
      const deadlines = (await a.store.events.list(i.id)).filter((e) => e.type === 'deadline');
      expect(deadlines, i.id).toHaveLength(1);
    }
  });
});
