import { asCordonError, CordonError } from '../proto/runtime/CordonError.js';
import type { Logger } from '../proto/runtime/logger.js';
import type { TlsMaterial } from '../proto/runtime/tls.js';
import { DrillClock, systemClock, type Clock } from './clock.js';
import { startController, type RunningController } from './createController.js';
import { createDeskHandlers } from './desk/deskService.js';
import { createIncidentDesk } from './desk/incidentDesk.js';
import type { Server } from 'node:http';
import type { BmcDriver } from './bmc/BmcDriver.js';
import { createMetrics, serveMetrics, type Metrics } from './metrics/createMetrics.js';
import { BmcCheckWorker } from './dispatch/BmcCheckWorker.js';
import { SwitchFallback, type SwitchFallbackSettings } from './dispatch/SwitchFallback.js';
import { EnforcementObserver, type ObserverReads } from './dispatch/EnforcementObserver.js';
import { TamperLog } from './agents/TamperLog.js';
import type { SwitchDriver } from './switch/SwitchDriver.js';
import { ReportTracker } from './dispatch/ReportTracker.js';
import { StoreDesiredStates } from './dispatch/StoreDesiredStates.js';
import { DeadlineScheduler } from './services/DeadlineScheduler.js';
import { fireDeadlines } from './services/fireDeadlines.js';
import { createReportAuthenticator } from './intake/trust/createReportAuthenticator.js';
import { IncidentService } from './services/IncidentService.js';
import type { IntakeLimits } from './intake/limits.js';
import { setSharedParsePool } from './intake/ParsePool.js';
import type { PolicyConfig } from './incidents/policy.js';
import type { MailTransport } from './mail/MailSender.js';
import { OutboxWorker, type OutboxWorkerDeps } from './mail/OutboxWorker.js';
import { StoreOutbox } from './mail/StoreOutbox.js';
import { CachedInventory } from './store/CachedInventory.js';
import type { Store } from './store/Store.js';
import type { Inventory } from './inventory/Inventory.js';
import { CustomerLinks, type CustomerLinkSettings } from './customer/CustomerLinks.js';
import { CustomerVoice } from './customer/CustomerVoice.js';
import { ReadPool } from './store/ReadPool.js';

/** Read-only connections the customer page reads on: enough to overlap a few pages' reads on a small machine. */
const PAGE_READERS = 3;
import type { CustomerWebSettings } from './web/customer/customerWebSettings.js';
import { startCustomerWeb, type CustomerWeb } from './web/customer/startCustomerWeb.js';
import { CustomerMailThreader } from './intake/customerMail/CustomerMailThreader.js';
import { DeskChanges } from './web/desk/DeskChanges.js';
import type { DeskWebSettings } from './web/desk/deskWebSettings.js';
import { startDeskWeb, type DeskWeb } from './web/desk/startDeskWeb.js';
import { createDeskReads } from './web/desk/DeskReads.js';
import type { AgentSessions } from './agents/SessionRegistry.js';
import { isCordonError } from '../proto/runtime/CordonError.js';
import { startReplica, type Replica, type ReplicaSettings } from './replicas/startReplica.js';
import { DETECTION_OFF } from './monitoring/detectionFromConfig.js';
import { effectiveDetection, unmatchedOverrides, type DetectionSettings } from './monitoring/effectiveDetection.js';
import type { Observation } from '../proto/gen/cordon/v1/agent.js';
import { ObservationIntake } from './monitoring/ObservationIntake.js';
import { BanLedger } from './security/BanLedger.js';
import { ListenerLedger } from './security/ListenerLedger.js';
import { ManagedSecurityPolicies } from './security/ManagedSecurityPolicies.js';
import type { ManagedSecuritySettings } from './security/managedSecuritySettings.js';
import { SecurityPages, securityPageUrl } from './security/SecurityPages.js';
import { SecurityMailer } from './security/SecurityMailer.js';
import { createDnsblMonitor } from './monitoring/createDnsblMonitor.js';
import type { DnsblMonitor } from './monitoring/dnsbl/DnsblMonitor.js';
import { dnsblSettings, type DnsblTunables } from './monitoring/dnsbl/dnsblSettings.js';
import { DEFAULT_FLEET_SETTINGS } from './replicas/FleetSessions.js';
import { AlertIntake } from './alerts/AlertIntake.js';
import type { AlertsSettings } from './alerts/alertsSettings.js';
import { startAlertsListener, type AlertsListener } from './alerts/startAlertsListener.js';

export interface ControllerSettings {
  listen: string;
  tls: TlsMaterial;
  revokedSerialsFile: string;
  staleAfterMissedHeartbeats: number;
  /** `agents.maxHeartbeatSeconds` in ms: the longest heartbeat interval an agent may ask for (default 60 s). */
  maxHeartbeatMs?: number | undefined;
  /** `agents.maxRestrictedHeartbeatSeconds` in ms: the same while its host is restricted (default 10 s). */
  maxRestrictedHeartbeatMs?: number | undefined;
  pingIntervalMs: number;
  /** `agents.reconnectRatePerSecond`: the rate agents are told to come back at (0 or absent: nothing told). */
  reconnectRatePerSecond?: number | undefined;
  helloTimeoutMs: number;
  store: Store;
  policy: PolicyConfig;
  smtpRelays: string[];
  /** Checks BMCs around cuts; without it cuts wait for an operator's override. */
  bmcDriver?: BmcDriver | undefined;
  /** `bmc.credentialsDir`: where BMC password files set over the desk must lie; without it the desk cannot set BMCs. */
  bmcCredentialsDir?: string | undefined;
  /** What agents count on their hosts (config `detection`); without it they count nothing. */
  detection?: DetectionSettings | undefined;
  /** Managed security (config `managedSecurity`): brute-force bans on the hosts that took it. Absent: none did. */
  managedSecurity?: ManagedSecuritySettings | undefined;
  /** `monitoring.dnsbl` when enabled: our public addresses checked on DNS blocklists, listings filed as own_monitoring complaints. Absent: no checks. */
  dnsbl?: DnsblTunables | undefined;
  /** The network-side fallback; without it a silent agent's cut stays with the agent. */
  switchFallback?: { driver: SwitchDriver; settings: SwitchFallbackSettings } | undefined;
  /** host:port for GET /metrics (Prometheus); absent or empty: no metrics endpoint. */
  metricsListen?: string | undefined;
  /** Customer mail; without it mail stays queued in the outbox. */
  mail: { transport: MailTransport; desk: OutboxWorkerDeps['desk']; maxAttempts: number } | undefined;
  /** `outcome.*`: which reporters are mailed how an incident ended; the defaults (mail-registered yes, feeds no) when absent. */
  outcome?: { mailReporters: boolean; feedReporters: boolean } | undefined;
  /** The incident clock (deadlines, lifecycle, mail, BMC freshness); a DrillClock lets `AdvanceClock` move it. */
  clock?: Clock;
  /** The wall clock for agent liveness; the system clock unless a test injects one. */
  wallClock?: Clock;
  /** `intake.dnsServers`: where mail authentication looks up DKIM keys and DMARC policies; the system resolver when absent or empty. */
  dnsServers?: string[] | undefined;
  /** `intake.limits` and `intake.parseWorkers`: how reports are parsed (in worker threads) and bounded; the defaults when absent. */
  intake?: { limits: IntakeLimits; parseWorkers: number } | undefined;
  /** Links to the customer page (`web.customer.*`); without them notices carry no link and customers answer by mail only. */
  customerLinks?: CustomerLinkSettings | undefined;
  /** The customer page's listener (`web.customer.*`); needs customerLinks. Absent: no page. */
  customerWeb?: CustomerWebSettings | undefined;
  /** The desk in the browser (`web.desk.*`): mutual TLS, operator certificates. Absent: no desk page. */
  deskWeb?: DeskWebSettings | undefined;
  /** `alerts.*`: CrowdSec and FastNetMon post alerts, filed as own_monitoring complaints. Absent: no listener. */
  alerts?: AlertsSettings | undefined;
  /** One of several controllers on one PostgreSQL database (store.url): how it finds and tells the others. Absent: the only controller. */
  replica?: ReplicaSettings | undefined;
  log: Logger;
}

export interface Controller {
  server: RunningController;
  service: IncidentService;
  store: Store;
  reports: ReportTracker;
  scheduler: DeadlineScheduler;
  outbox: OutboxWorker | undefined;
  bmc: BmcCheckWorker | undefined;
  switches: SwitchFallback | undefined;
  /** The port of GET /metrics, when served. */
  metricsPort: number | undefined;
  /** The port of the customer page, when served. */
  customerWebPort: number | undefined;
  /** The port of the desk in the browser, when served. */
  deskWebPort: number | undefined;
  /** The alerts listener (port, what it filed), when served. */
  alerts: { port: number; intake: AlertIntake } | undefined;
  /** "Something changed" for open desk pages (fed by the hooks below). */
  deskChanges: DeskChanges;
  /** The fleet's agent sessions: this controller's, and with replicas every replica's. */
  agents: AgentSessions;
  /** The replica's coordination, when one of several. */
  replica: Replica | undefined;
  /** The DNSBL checks, when monitoring.dnsbl is enabled (checkOnce() checks now). */
  dnsbl: DnsblMonitor | undefined;
  stop(graceMs?: number): Promise<void>;
}

/**
 * Wires the whole controller in one place: the store, the incident service,
 * the deadline scheduler, desired-state dispatch with report tracking, the
 * mail outbox worker and the gRPC server. Overdue deadlines are processed
 * before the server accepts agents.
 */
export async function runController(s: ControllerSettings): Promise<Controller> {
  const clock = s.clock ?? systemClock;
  // Agent liveness (heartbeats, pings, the switch fallback's silence) is a
  // fact of the wire and runs on the wall clock, even when the incident
  // clock is a test's or a drill's.
  const wall = s.wallClock ?? systemClock;
  const log = s.log;
  // Bad DNSBL tunables fail here, before anything is opened or listening.
  if (s.dnsbl) dnsblSettings(s.dnsbl);
  // parseReport (IncidentService.ingestReport) parses in this pool's worker threads, within these limits.
  const parsePool = setSharedParsePool({ limits: s.intake?.limits, workers: s.intake?.parseWorkers, log: log.child({ component: 'intake' }) });
  const inventory = await CachedInventory.load(s.store.hosts);
  const desired = new StoreDesiredStates(s.store, s.smtpRelays);
  // Several replicas: listen to the others before anything can change (agents, deadlines, the drill clock).
  let running: RunningController | undefined;
  const deskChanges = new DeskChanges();
  const replica = s.replica
    ? await startReplica({
        settings: s.replica,
        store: s.store,
        desired,
        local: () => running?.sessions,
        clock,
        wall,
        log: log.child({ component: 'replica' }),
        onAgentsChanged: () => deskChanges.notify(),
        onInventoryChanged: () => void inventory.refresh().catch((err: unknown) => log.warn({ err: asCordonError(err).message }, 'cannot re-read the hosts')),
        onClockMoved: () => void scheduler?.kick(),
      })
    : undefined;
  let scheduler: DeadlineScheduler | undefined;
  let outbox: OutboxWorker | undefined;
  let bmc: BmcCheckWorker | undefined;
  // Who Cordon believes: each raw report's mail authentication against the reporter registry.
  const authenticate = createReportAuthenticator({
    listReporters: () => s.store.reporters.list(),
    trustedKinds: s.policy.trustedReporterKinds,
    dnsServers: s.dnsServers,
    log: log.child({ component: 'trust' }),
  });
  s.store.reporters.onChange(() => authenticate.invalidate());
  // The customer page reads on connections of its own (a few, round robin), beside the writer; see ReadPool.
  // The desk's pages read their queue and incidents on them too.
  const pageReads = s.customerWeb || s.deskWeb ? await ReadPool.open(s.store, PAGE_READERS) : undefined;
  const reads = pageReads ? () => pageReads.next() : undefined;
  const links = s.customerLinks ? new CustomerLinks(s.store, s.customerLinks, reads) : undefined;
  // Open desk pages learn of every commit that changed the store, whoever made it (Database.onCommit), and of
  // agents connecting, reporting, going stale or away (SessionRegistry's onChange, wired below): not call site by call site.
  s.store.db.onCommit(() => {
    deskChanges.notify();
    replica?.committed();
  });
  const service = new IncidentService({
    links,
    outcome: s.outcome,
    store: s.store,
    policy: s.policy,
    clock,
    log: log.child({ component: 'incidents' }),
    onHostChanged: (hostId) => {
      void desired.changed(hostId).catch((err: unknown) => log.error({ host: hostId, err: asCordonError(err).message }, 'push failed'));
      replica?.hostChanged(hostId);
    },
    // Pushes first: the mail and the deadlines a commit also starts read the one database connection, and a mass
    // action's thousand notices read before its thousand desired states held every push back (BENCHMARKS §2).
    onOutbox: () => {
      bmc?.kick();
      void desired.settled().then(() => outbox?.kick());
    },
    onDeadlinesChanged: () => {
      void desired.settled().then(() => scheduler?.kick());
    },
    authenticate,
    findReporter: (id) => s.store.reporters.get(id),
  });
  scheduler = new DeadlineScheduler(s.store.incidents, (page) => fireDeadlines(service, s.store, page), clock, log.child({ component: 'deadlines' }));
  let metrics: Metrics | undefined;
  const reports = new ReportTracker(s.store, service, () => clock.now(), log.child({ component: 'dispatch' }), (seconds) => metrics?.dispatch.observe(seconds));
  if (s.mail) {
    const source = new StoreOutbox(s.store.outbox, async (incidentId, payload) => {
      if (incidentId && (payload as { template?: string }).template === 'notice') {
        await service.apply(incidentId, { type: 'notice_sent' }, 'mail').catch((err: unknown) =>
          log.error({ incident: incidentId, err: asCordonError(err).message }, 'cannot record the notice'),
        );
      }
    });
    outbox = new OutboxWorker({
      source,
      transport: s.mail.transport,
      desk: s.mail.desk,
      clock,
      log: log.child({ component: 'mail' }),
      config: { maxAttempts: s.mail.maxAttempts },
      linkUrl: links ? (id) => links.url(id) : undefined,
      securityUrl: links && s.customerWeb ? (hostId, customerId) => securityPageUrl(links.settings.secret, links.settings.publicUrl, { id: hostId, customerId }) : undefined,
    });
  }

  if (s.bmcDriver) bmc = new BmcCheckWorker(s.store, service, s.bmcDriver, clock, log.child({ component: 'bmc' }));
  await scheduler.start();
  // Replies, auto-replies and bounces relayed from the abuse mailbox thread onto incidents instead of opening complaints.
  const customerMail = new CustomerMailThreader({ store: s.store, service, clock: () => clock.now(), log: log.child({ component: 'customer-mail' }), limits: s.intake?.limits });
  // The desk's handlers, built once: DeskService (gRPC) and the desk's pages call the same functions.
  // Who holds which agent: this controller's registry, or every replica's (replica.agents).
  const agents: AgentSessions = replica?.agents ?? { get: (h) => running?.sessions.get(h), list: () => running?.sessions.list() ?? [] };
  // Tamper reports count for the switch fallback and for what the desk says is confirmed; without a fallback, its defaults.
  const tamperSettings = s.switchFallback?.settings ?? { tamperWindowSeconds: 600, tamperThreshold: 3 };
  const tampers = new TamperLog(() => wall.now(), tamperSettings.tamperWindowSeconds, tamperSettings.tamperThreshold);
  // What the agent or the switch confirmed, on the wall clock like the agents' liveness it reads.
  const observer = new EnforcementObserver(s.store, agents, () => wall.now(), wall.now(), tampers, s.switchFallback !== undefined);
  const observe = (hostIds: readonly string[], loaded?: ObserverReads) => observer.observeMany(hostIds, loaded);
  const incidentDesk = createIncidentDesk({
    observe,
    store: s.store,
    service,
    policy: s.policy,
    clock: () => clock.now(),
    onHostsChanged: async () => {
      await inventory.refresh();
      replica?.inventoryChanged();
    },
    agentConnected: (hostId) => {
      const st = agents.get(hostId)?.state;
      return st === 'connected' || st === 'stale';
    },
    ...(bmc ? { checkBmc: (hostId: string) => bmc!.checkHost(hostId) } : {}),
    ...(clock instanceof DrillClock ? { drillClock: clock } : {}),
    bmcCredentialsDir: s.bmcCredentialsDir,
    threadCustomerMail: (raw, relayedBy) => customerMail.thread(raw, relayedBy),
    linkTtlDays: links?.settings.ttlDays,
    reads,
  });
  // Started with the rest below, once the controller serves; only here so undoStart can reach it.
  const dnsbl = s.dnsbl
    ? createDnsblMonitor({
        tunables: s.dnsbl,
        store: s.store,
        service,
        trusted: s.policy.trustedReporterKinds.includes('own_monitoring'),
        clock,
        wall,
        replica: replica ? { id: replica.id, deadAfterMs: s.replica?.fleet?.deadAfterMs ?? DEFAULT_FLEET_SETTINGS.deadAfterMs } : undefined,
        log,
      })
    : undefined;
  let customerWeb: CustomerWeb | undefined;
  let deskWeb: DeskWeb | undefined;
  let alerts: AlertsListener | undefined;
  const alertIntake = s.alerts
    ? new AlertIntake({
        submit: (input, actor) => service.submitComplaint(input, actor),
        keep: (input, reason, actor) => service.keepNeedsInfo(input, reason, actor),
        trusted: s.policy.trustedReporterKinds.includes('own_monitoring'),
        clock: () => clock.now(),
        log: log.child({ component: 'alerts' }),
      })
    : undefined;
  const managedSecurity = s.managedSecurity
    ? new ManagedSecurityPolicies(
        s.managedSecurity,
        inventory,
        new BanLedger(() => s.store.audit, log.child({ component: 'guard' }), s.managedSecurity.maxEventsPerMinute),
        new ListenerLedger(() => s.store.audit),
        () => wall.now(),
        log.child({ component: 'managed-security' }),
        s.mail ? securityMailer(s.store, inventory, s.managedSecurity.maxEventsPerMinute, () => wall.now(), log.child({ component: 'managed-security' })) : undefined,
      )
    : undefined;
  // Both pages start before the gRPC server, so a port already taken stops the start with little to undo.
  try {
    if (s.customerWeb) {
      if (!links) throw new CordonError('invalid', 'the customer page needs customer links (web.customer.publicUrl and secretFile)', { field: 'web.customer.listen' });
      const voice = new CustomerVoice({ store: s.store, reads, service, policy: s.policy, clock });
      const security =
        managedSecurity && s.managedSecurity
          ? { pages: new SecurityPages(links.settings.secret, s.customerWeb.publicUrl, inventory, (id) => managedSecurity.covers(id)), policies: managedSecurity, settings: s.managedSecurity }
          : undefined;
      customerWeb = await startCustomerWeb({ settings: s.customerWeb, links, voice, clock, log: log.child({ component: 'customer-page' }), security });
    }
    if (s.deskWeb) {
      // ListHosts and ListAgents read the agents' sessions, which exist once the gRPC server below has started.
      const fleet = () => {
        if (!running) throw new CordonError('transient', 'the controller is still starting; reload in a moment');
        // No observation here: the page reads it with each host's details (readHostDetails), from what it read anyway.
        return createDeskHandlers({ inventory, sessions: agents });
      };
      const handlers = { ...incidentDesk, listHosts: () => fleet().listHosts(), listAgents: () => fleet().listAgents() };
      const fleetReads = {
        details: incidentDesk.getHostDetails,
        driftRepairs: (hostId: string) => agents.get(hostId)?.driftRepairs,
        ...(managedSecurity ? { security: (hostId: string) => managedSecurity.deskView(hostId) } : {}),
      };
      deskWeb = await startDeskWeb({ settings: s.deskWeb, handlers, fleet: fleetReads, reads: createDeskReads(s.store, () => clock.now()), revokedSerialsFile: s.revokedSerialsFile, changes: deskChanges, log: log.child({ component: 'desk-page' }) });
    }
    if (s.alerts && alertIntake) alerts = await startAlertsListener(s.alerts, alertIntake, log.child({ component: 'alerts' }));
  } catch (err) {
    await undoStart();
    throw err;
  }
  // A start that fails from here (the gRPC port taken, say) leaves nothing listening or open behind it.
  async function undoStart(): Promise<void> {
    await dnsbl?.stop();
    await alerts?.close();
    await deskWeb?.close();
    await customerWeb?.close();
    scheduler!.stop();
    await parsePool.close();
    await pageReads?.close();
    await replica?.stop();
  }
  const detection = s.detection;
  // The host's thresholds at each Hello and each observation: the inventory can change while running.
  const detectionFor = detection && ((hostId: string) => effectiveDetection(detection, inventory.get(hostId)));
  if (detection) {
    const unmatched = unmatchedOverrides(detection, inventory.list());
    if (unmatched.hosts.length > 0) log.warn({ hosts: unmatched.hosts }, 'detection.hosts names hosts not in the inventory: their overrides apply once they are added');
    if (unmatched.customers.length > 0) log.warn({ customers: unmatched.customers }, 'detection.customers names customers with no host in the inventory');
    // Where an operator sees a host's own thresholds: here at start, and in its agent's log ("watching outbound connections").
    for (const id of detection.hosts?.keys() ?? []) log.info({ host: id, ...effectiveDetection(detection, inventory.get(id)).policy }, 'detection thresholds of a host with an override');
  }
  const observations = detectionFor
    ? new ObservationIntake({
        inventory,
        submit: (input, hostId) => service.submitComplaint(input, `agent:${hostId}`),
        trusted: s.policy.trustedReporterKinds.includes('own_monitoring'),
        clock: () => wall.now(),
        log: log.child({ component: 'own-monitoring' }),
        detectionFor,
      })
    : undefined;
  let server: RunningController;
  try {
    server = await startController({
      listen: s.listen,
      tls: s.tls,
      revokedSerialsFile: s.revokedSerialsFile,
      inventory,
      desired,
      onReport: (hostId, report) => {
        metrics?.observeReport(hostId, report);
        reports.onReport(hostId, report);
      },
      onAgentChanged: (hostId) => {
        deskChanges.notify();
        replica?.agentChanged(hostId);
      },
      agents,
      onTamper: (hostId) => {
        tampers.record(hostId);
        switches?.onTamper(hostId);
      },
      observe,
      // Detection off everywhere still sends every agent the off policy: an agent watching under an earlier
      // config (or whose table survived a restart) stops and removes its watch table.
      ...(observations && detectionFor
        ? { detection: (hostId: string) => detectionFor(hostId).policy, onObservation: (hostId: string, o: Observation) => observations.take(hostId, o) }
        : { detection: () => DETECTION_OFF }),
      ...(managedSecurity ? { managedSecurity } : {}),
      staleAfterMissedHeartbeats: s.staleAfterMissedHeartbeats,
      ...(s.maxHeartbeatMs ? { maxHeartbeatMs: s.maxHeartbeatMs } : {}),
      ...(s.maxRestrictedHeartbeatMs ? { maxRestrictedHeartbeatMs: s.maxRestrictedHeartbeatMs } : {}),
      pingIntervalMs: s.pingIntervalMs,
      ...(s.reconnectRatePerSecond ? { reconnectRatePerSecond: s.reconnectRatePerSecond } : {}),
      helloTimeoutMs: s.helloTimeoutMs,
      maxReportBytes: parsePool.limits.maxReportBytes,
      log,
      clock: () => wall.now(),
      incidentDesk,
    });
  } catch (err) {
    await undoStart();
    throw err;
  }
  running = server;
  outbox?.start();
  bmc?.start();
  dnsbl?.start();
  let metricsServer: { port: number; server: Server } | undefined;
  if (s.metricsListen) {
    metrics = createMetrics(s.store, agents, () => clock.now(), () => observer.counts());
    metricsServer = await serveMetrics(metrics, s.metricsListen);
    log.info({ port: metricsServer.port }, 'metrics on /metrics');
  }
  const switches = s.switchFallback
    ? new SwitchFallback(s.store, s.switchFallback.driver, agents, wall, log.child({ component: 'switch-fallback' }), s.switchFallback.settings, {
        tampers,
        apply: (incidentId, event, actor) => service.apply(incidentId, event, actor),
      })
    : undefined;
  switches?.start();

  return {
    server,
    service,
    store: s.store,
    reports,
    scheduler,
    outbox,
    bmc,
    switches,
    metricsPort: metricsServer?.port,
    customerWebPort: customerWeb?.port,
    deskWebPort: deskWeb?.port,
    alerts: alerts && alertIntake ? { port: alerts.port, intake: alertIntake } : undefined,
    deskChanges,
    agents,
    replica,
    dnsbl,
    async stop(graceMs = 5_000) {
      metricsServer?.server.close();
      // Lookups in flight end within timeoutMs; a filing in progress finishes before the store closes.
      await dnsbl?.stop();
      await alerts?.close();
      await deskWeb?.close();
      await customerWeb?.close();
      await pageReads?.close();
      scheduler?.stop();
      await switches?.stop();
      await outbox?.stop();
      await bmc?.stop();
      await server.stop(graceMs);
      // After the streams ended, so the others read them as ended here at once.
      await replica?.stop();
      await parsePool.close();
      await reports.idle();
    },
  };
}

/** Managed security's mailer, with a ledger of its own over the same audit log (the mailer reads bans, never records them). */
function securityMailer(store: Store, inventory: Inventory, maxEventsPerMinute: number, clock: () => Date, log: Logger): SecurityMailer {
  return new SecurityMailer(store, inventory, new BanLedger(() => store.audit, log, maxEventsPerMinute), clock, log);
}
