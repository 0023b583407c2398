import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BmcCheck, BmcDriver, BmcTarget } from '../../../controller/bmc/BmcDriver.js';
import { ManualClock } from '../../../controller/clock.js';
import { createIncidentDesk, type IncidentDesk } from '../../../controller/desk/incidentDesk.js';
import { BmcCheckWorker } from '../../../controller/dispatch/BmcCheckWorker.js';
import { ReportTracker } from '../../../controller/dispatch/ReportTracker.js';
import { StoreDesiredStates } from '../../../controller/dispatch/StoreDesiredStates.js';
import { DeadlineScheduler } from '../../../controller/services/DeadlineScheduler.js';
import { IncidentService } from '../../../controller/services/IncidentService.js';
import type { PolicyConfig } from '../../../controller/incidents/policy.js';
import type { AuthenticateReport } from '../../../controller/intake/trust/Authentication.js';
import { createReportAuthenticator } from '../../../controller/intake/trust/createReportAuthenticator.js';
import type { MailRecipient, MailTransport } from '../../../controller/mail/MailSender.js';
import { OutboxWorker } from '../../../controller/mail/OutboxWorker.js';
import type { MailPayload } from '../../../controller/mail/OutboxSource.js';
import { StoreOutbox } from '../../../controller/mail/StoreOutbox.js';
import type { Store } from '../../../controller/store/Store.js';
import { openTestStore } from '../../helpers/testStore.js';
import { ResultStatus, type DesiredState } from '../../../proto/gen/cordon/v1/agent.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import type { OperatorRole } from '../../../proto/runtime/peerIdentity.js';
import type { CallContext } from '../../../proto/runtime/rpcServer.js';
import { Rng } from '../rng.js';
import { createSimResolver, REGISTRY, signingKeys } from './reports.js';
import type { Scenario } from './scenario.js';

/**
 * The real controller parts, wired as controller/runController.ts wires
 * them but driven step by step: the store on a SQLite file in a temp dir
 * (a fresh PostgreSQL database in the `postgresql` test project), the
 * IncidentService with the real report authenticator (DNS answered in
 * process), the deadline scheduler on a ManualClock, the mail outbox worker
 * with a recording transport, the BMC check worker with a scripted driver,
 * desired-state dispatch and agent-report tracking with scripted agents, and
 * the operator desk (incidents, approvals, complaints) called in process.
 * No gRPC listener: the desk handlers are called with a CallContext as the
 * server would build it from an operator certificate.
 */

/** One mail the transport accepted, with the payload it was rendered from (what the customer was told). */
export interface DeliveredMail {
  at: number;
  to: string;
  subject: string;
  text: string;
  incidentId: string | undefined;
  template: string | undefined;
  payload: MailPayload | undefined;
}

/** Every desired state pushed to a host's agent, as the agent received it. */
export interface Push {
  at: number;
  hostId: string;
  state: DesiredState;
}

export interface Harness {
  store: Store;
  service: IncidentService;
  desk: IncidentDesk;
  clock: ManualClock;
  dir: string;
  mails: DeliveredMail[];
  pushes: Push[];
  /** DNS lookups the authenticator made. */
  dnsLookups(): number;
  bmcChecks(): number;
  /** Delivers everything due now: deadlines, mail, BMC checks, pushes and the agents' reports, until quiet. */
  pump(step: number): Promise<void>;
  /** When the controller next has something to do by itself (a deadline, a mail retry), if after now. */
  nextWakeup(): Promise<number | undefined>;
  /** Called with each mail as it is delivered (the customers read their notices there). */
  onMail: (m: DeliveredMail) => void;
  ctx(operator: string, role?: OperatorRole): CallContext;
  close(): Promise<void>;
}

const SWEEP_GUARD = 50;

/**
 * Where the store file goes: SIM_TMPDIR, else /dev/shm where there is one (a
 * real file, the same code path; only the fsyncs are cheaper, which is most
 * of a run's time on a disk), else the system's temp dir.
 */
function simTmpDir(): string {
  if (process.env.SIM_TMPDIR) return process.env.SIM_TMPDIR;
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/**
 * Deliberate faults, to show the checks catch what they are about (the
 * sabotage tests in serviceWorld.test.ts): a policy the service runs with
 * instead of the one the checks hold it to, a wrapper around the report
 * authenticator, and a last word on the wired parts.
 */
export interface Sabotage {
  servicePolicy?: PolicyConfig;
  authenticate?: (real: AuthenticateReport) => AuthenticateReport;
  patch?: (h: Harness) => void | Promise<void>;
}

export async function createHarness(s: Scenario, policy: PolicyConfig, sabotage: Sabotage = {}): Promise<Harness> {
  const dir = mkdtempSync(join(simTmpDir(), `cordon-sim-${s.seed}-`));
  const store = await openTestStore(join(dir, 'cordon.db'));
  const clock = new ManualClock(new Date(s.t0));
  const log = silentLogger();

  for (const c of s.customers) await store.customers.upsert({ id: c.id, name: c.name, email: c.email });
  await store.hosts.upsertMany(s.hosts.map((h, n) => ({ id: h.id, customerId: h.customerId, publicPrefixes: h.prefixes, managementAddress: `10.70.${n >> 8}.${n & 255}` })));
  for (const [n, h] of s.hosts.entries()) {
    if (h.bmc) await store.bmcs.set({ hostId: h.id, protocol: 'ipmi', address: `10.71.${n >> 8}.${n & 255}`, port: 623, user: 'cordon', passwordFile: join(dir, `bmc-${h.id}.pw`), sol: false, cipherSuite: undefined });
  }
  for (const r of REGISTRY) await store.reporters.add(r, 'config', 'sim', new Date(s.t0));

  const resolver = createSimResolver(signingKeys());
  const real = createReportAuthenticator({ listReporters: () => store.reporters.list(), trustedKinds: policy.trustedReporterKinds, resolver, log });
  const authenticate = sabotage.authenticate ? sabotage.authenticate(real) : real;

  // BMCs answer unless the scenario has them out; checks are stamped by the incident clock (BmcCheckWorker).
  let bmcChecks = 0;
  const bmcDown = (hostId: string, t: number) => s.bmcOutages.some((o) => o.hostId === hostId && o.from <= t && t < o.to);
  const bmcDriver: BmcDriver = {
    async check(t: BmcTarget): Promise<BmcCheck> {
      bmcChecks++;
      const at = clock.now();
      return bmcDown(t.hostId, at.getTime())
        ? { hostId: t.hostId, reachable: false, sol: 'unavailable', checkedAt: at, durationMs: 3000, attempts: 2, error: 'no answer from the BMC', errorKind: 'timeout' }
        : { hostId: t.hostId, reachable: true, sol: 'not_required', checkedAt: at, durationMs: 40, attempts: 1 };
    },
  };

  const desired = new StoreDesiredStates(store, []);
  const pending: Promise<void>[] = [];
  let scheduler: DeadlineScheduler | undefined;
  const service = new IncidentService({
    store,
    policy: sabotage.servicePolicy ?? policy,
    clock,
    log,
    authenticate,
    findReporter: async (id) => store.reporters.get(id),
    onHostChanged: (hostId) => void pending.push(desired.changed(hostId)),
    onOutbox: () => {},
    onDeadlinesChanged: () => void scheduler?.kick(),
  });
  // A page of due deadlines in one transaction, as runController fires them.
  scheduler = new DeadlineScheduler(store.incidents, (page) => service.applyMany(page.map((d) => ({ incidentId: d.id, event: { type: 'deadline', dueAt: d.dueAt } })), 'clock'), clock, log);
  await scheduler.start();
  const reports = new ReportTracker(store, service, () => clock.now(), log);
  // Never polls by itself (2^31-1 ms): each pump starts it for one pass and stops it again.
  const bmc = new BmcCheckWorker(store, service, bmcDriver, clock, log, 2 ** 31 - 1);

  const mails: DeliveredMail[] = [];
  const mailRng = new Rng(s.seed ^ 0x6d61696c);
  let lastMail: { to: MailRecipient; subject: string; text: string } | undefined;
  // The relay refuses now and then (a 4xx): the outbox retries, and the notice (and its clock) waits.
  const transport: MailTransport = {
    async send(to, mail, opts) {
      if (mailRng.chance(0.04)) throw new CordonError('transient', '451 try again later');
      lastMail = { to, subject: mail.subject, text: mail.text };
      return opts.messageId;
    },
  };
  const harness: Harness = {
    store,
    service,
    desk: undefined as unknown as IncidentDesk,
    clock,
    dir,
    mails,
    pushes: [],
    dnsLookups: () => resolver.lookups,
    bmcChecks: () => bmcChecks,
    pump: async () => {},
    nextWakeup: async () => undefined,
    onMail: () => {},
    ctx: (name, role = 'abuse_operator') => ({ peer: { kind: 'operator', name, role, serial: 'x', fingerprint: 'x' }, peerAddress: 'in-process', signal: new AbortController().signal }),
    close: async () => {},
  };
  const outbox = new OutboxWorker({
    source: new StoreOutbox(store.outbox, async (incidentId, payload) => {
      const p = payload as MailPayload | undefined;
      const m: DeliveredMail = { at: clock.now().getTime(), to: lastMail?.to.address ?? '', subject: lastMail?.subject ?? '', text: lastMail?.text ?? '', incidentId, template: p?.template, payload: p };
      mails.push(m);
      // As runController does: the notice went out, so the incident's clock starts now.
      if (incidentId && p?.template === 'notice') await service.apply(incidentId, { type: 'notice_sent' }, 'mail');
      harness.onMail(m);
    }),
    transport,
    desk: { from: 'abuse@hoster.example', replyTo: 'abuse@hoster.example', name: 'Hoster Abuse Desk' },
    clock,
    log,
    config: { maxAttempts: 6, retryInitialMs: 5 * 60_000, retryMaxMs: 3_600_000 },
  });

  harness.desk = createIncidentDesk({
    store,
    service,
    clock: () => clock.now(),
    onHostsChanged: async () => {},
    policy: sabotage.servicePolicy ?? policy,
    agentConnected: () => true,
    checkBmc: (hostId) => bmc.checkHost(hostId),
  });

  // Scripted agents: each applies what it was last pushed and reports it, unless its host's agent is out.
  const agents = new Map<string, { pushed: DesiredState | undefined; reported: bigint; failedAtStep: number }>();
  for (const h of s.hosts) {
    const a = { pushed: undefined as DesiredState | undefined, reported: 0n, failedAtStep: -1 };
    agents.set(h.id, a);
    desired.subscribe(h.id, (state) => {
      harness.pushes.push({ at: clock.now().getTime(), hostId: h.id, state });
      if (!a.pushed || state.generation > a.pushed.generation) a.pushed = state;
    });
  }
  const agentRng = new Rng(s.seed ^ 0x6167);
  const agentOut = (hostId: string, t: number) => s.agentOutages.some((o) => o.hostId === hostId && o.from <= t && t < o.to);

  const dueBmcChecks = async () =>
    (await store.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'bmc_check' AND status IN ('pending', 'in_flight') AND due_at <= ?", [clock.now().getTime()]))!.n;

  // What the agents and the BMC do takes time: each moves the clock on by 1 ms first, so that what a
  // commit caused (an agent's report, a check after a cut) is stamped after it, never in the same millisecond.
  const tick = () => clock.set(new Date(clock.now().getTime() + 1));
  const toReport = (step: number) =>
    [...agents].filter(([hostId, a]) => a.pushed && a.pushed.generation > a.reported && !agentOut(hostId, clock.now().getTime()) && a.failedAtStep !== step);

  harness.pump = async (step: number) => {
    for (let round = 0; round < SWEEP_GUARD; round++) {
      let work = 0;
      await scheduler!.kick();
      while ((await outbox.runOnce()) > 0) work++;
      if ((await dueBmcChecks()) > 0) tick();
      while ((await dueBmcChecks()) > 0) {
        // One pass of the real worker: start() queues it, a turn of the event loop lets it begin, stop() waits for it.
        bmc.start();
        await new Promise((r) => setImmediate(r));
        await bmc.stop();
        work++;
      }
      while (pending.length > 0) await pending.shift();
      if (toReport(step).length > 0) tick();
      for (const [hostId, a] of toReport(step)) {
        const fail = a.failedAtStep < 0 && agentRng.chance(0.02);
        reports.onReport(hostId, {
          appliedGeneration: a.pushed!.generation,
          observedDigest: 'sim',
          observedAt: clock.now(),
          error: '',
          results: a.pushed!.enforcements.map((e) => ({
            enforcementId: e.id,
            kind: 0,
            status: fail ? ResultStatus.RESULT_STATUS_FAILED : ResultStatus.RESULT_STATUS_APPLIED,
            error: fail ? 'nft: transaction failed' : '',
          })),
        });
        if (fail) a.failedAtStep = step;
        else {
          a.reported = a.pushed!.generation;
          a.failedAtStep = -1;
        }
        work++;
      }
      await reports.idle();
      while (pending.length > 0) await pending.shift();
      if (work === 0) return;
    }
    throw new Error(`the controller did not settle in ${SWEEP_GUARD} rounds at ${clock.now().toISOString()}`);
  };

  harness.nextWakeup = async () => {
    const now = clock.now().getTime();
    const due = await store.db.get<{ t: number | null }>('SELECT MIN(next_due_at) AS t FROM incidents WHERE next_due_at >= ?', [now]);
    const mail = await store.db.get<{ t: number | null }>("SELECT MIN(due_at) AS t FROM outbox WHERE status IN ('pending', 'in_flight') AND due_at > ?", [now]);
    // The scheduler fires 1 ms after a due time.
    const ts = [due?.t == null ? undefined : due.t + 1, mail?.t ?? undefined].filter((t): t is number => t !== undefined && t > now);
    return ts.length ? Math.min(...ts) : undefined;
  };

  harness.close = async () => {
    scheduler!.stop();
    await outbox.stop();
    await bmc.stop();
    await reports.idle();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  await sabotage.patch?.(harness);
  return harness;
}
