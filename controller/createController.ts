import { Server, ServerCredentials, type UntypedHandleCall } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { AgentServiceService } from '../proto/gen/cordon/v1/agent.js';
import { DeskServiceService } from '../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../proto/runtime/CordonError.js';
import { parseAddress } from '../proto/runtime/address.js';
import type { Logger } from '../proto/runtime/logger.js';
import { bidiHandler, guardedServices, unaryHandler, type BidiStream, type CallContext } from '../proto/runtime/rpcServer.js';
import { identityFromCertificate, type PeerIdentity } from '../proto/runtime/peerIdentity.js';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { PingWheel } from './agents/PingWheel.js';
import type { TlsMaterial } from '../proto/runtime/tls.js';
import { MemoryDesiredStates, type DesiredStateSource } from './agents/DesiredStates.js';
import type { AgentMessage, ControllerMessage, DetectionPolicy, Observation, Report, TamperEvent } from '../proto/gen/cordon/v1/agent.js';
import type { IncidentDesk } from './desk/incidentDesk.js';
import { handleAgentConnect } from './agents/handleAgentConnect.js';
import { RevocationList } from './agents/RevocationList.js';
import { SessionRegistry, type AgentSessions } from './agents/SessionRegistry.js';
import { createAuthorize } from './authorize.js';
import { addReflection } from './reflection.js';
import { HandshakeRefusalLog } from './transport/HandshakeRefusalLog.js';
import { listenMutualTls } from './transport/listenMutualTls.js';
import { createAgentStreamServer } from './transport/AgentStreamServer.js';
import { createDeskHandlers, type DeskDeps } from './desk/deskService.js';
import { DEFAULT_INTAKE_LIMITS, grpcMessageLimit } from './intake/limits.js';
import type { Inventory } from './inventory/Inventory.js';
import type { ManagedSecuritySource } from './security/ManagedSecurityPolicies.js';

export interface ControllerOptions {
  listen: string;
  tls: TlsMaterial;
  revokedSerialsFile: string;
  inventory: Inventory;
  /** Where desired states come from; in memory when not given (tests of the link). */
  desired?: DesiredStateSource;
  onReport?: (hostId: string, report: Report) => void;
  onTamper?: (hostId: string, event: TamperEvent) => void;
  /** What the agent of a host watches for on it (config `detection`, that host's effective policy); absent: nothing is sent. */
  detection?: (hostId: string) => DetectionPolicy;
  /** Called with an agent's observation of its own host. */
  onObservation?: (hostId: string, observation: Observation) => Promise<unknown>;
  /** Managed security (config `managedSecurity`); absent: no agent gets a guard policy and ban events are ignored. */
  managedSecurity?: ManagedSecuritySource;
  /** An agent's session opened, closed, reported, or went stale or recovered (SessionRegistry's onChange). */
  onAgentChanged?: (hostId: string) => void;
  /** What ListAgents and ListHosts read: the fleet's sessions when there are replicas; this server's own when absent. */
  agents?: AgentSessions;
  /** What ListHosts shows of each host's enforcement as observed (EnforcementObserver.observeMany); absent: nothing. */
  observe?: DeskDeps['observe'];
  /** The incident half of DeskService; its calls answer UNIMPLEMENTED when absent. */
  incidentDesk?: IncidentDesk;
  staleAfterMissedHeartbeats: number;
  /** The longest heartbeat interval an agent may ask for; longer ones are clamped (default 60 s, `agents.maxHeartbeatSeconds`). */
  maxHeartbeatMs?: number;
  /** The same while its host is restricted (default 10 s, `agents.maxRestrictedHeartbeatSeconds`). */
  maxRestrictedHeartbeatMs?: number;
  pingIntervalMs: number;
  /** Admission pacing (`agents.reconnectRatePerSecond`): agents are told to spread a redial over open sessions ÷ this; absent or 0, nothing is told. */
  reconnectRatePerSecond?: number;
  helloTimeoutMs: number;
  /** How often open streams and connections are checked against the revocation list (default 1 s). */
  revocationSweepMs?: number;
  log: Logger;
  clock?: () => Date;
  /** intake.limits.maxReportBytes: sets the gRPC receive limit (default 64 MiB). */
  maxReportBytes?: number;
}

export const DEFAULT_MAX_HEARTBEAT_MS = 60_000;
export const DEFAULT_MAX_RESTRICTED_HEARTBEAT_MS = 10_000;

/**
 * How long a fleet of `open` agents should take to come back at `ratePerSecond`
 * (admission pacing). Only the agents of this controller count: after a
 * replica's death its agents are spread over the ones left by their own
 * rotation.
 */
export function reconnectSpreadMs(open: number, ratePerSecond: number): number {
  return Math.min(0xffffffff, Math.ceil((open / ratePerSecond) * 1000));
}

/** What grpc.health.v1 answers for: the whole server ('') and each service. */
const HEALTH_SERVICES = new Set(['', 'cordon.v1.AgentService', 'cordon.v1.DeskService']);

/** The identity of an admitted connection's certificate when it is an agent's; anything else is grpc-js's to judge per call. */
function agentPeer(cert: PeerCertificate): PeerIdentity | undefined {
  try {
    const peer = identityFromCertificate(cert);
    return peer.kind === 'agent' ? peer : undefined;
  } catch {
    return undefined;
  }
}

export interface RunningController {
  /** The port actually bound (useful with port 0). */
  port: number;
  sessions: SessionRegistry;
  /** The in-memory desired states when no source was given (tests). */
  desired: MemoryDesiredStates;
  /** Stops accepting calls, ends agent streams, and waits up to `graceMs` for calls to finish. */
  stop(graceMs?: number): Promise<void>;
}

/** Wires the controller's parts and starts the gRPC server. */
export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const clock = opts.clock ?? (() => new Date());
  const log = opts.log;
  const sessions = new SessionRegistry(clock, opts.staleAfterMissedHeartbeats, opts.onAgentChanged);
  const desired = new MemoryDesiredStates(clock);
  const source: DesiredStateSource = opts.desired ?? desired;
  const revocations = new RevocationList(opts.revokedSerialsFile);
  const authorize = createAuthorize(revocations);
  const authorizeInfra = (peer: PeerIdentity) => {
    const reason = revocations.check(peer.serial);
    if (reason) throw new CordonError('permission', reason);
  };
  const rpcLog = log.child({ component: 'rpc' });
  const deps = { log: rpcLog, authorize };

  const server = new Server({
    // Agents ping through NATs and firewalls; allow their keepalives.
    'grpc.keepalive_time_ms': 20_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    // A report of intake.limits.maxReportBytes must fit in one SubmitComplaint request; parseReport refuses a larger one by name.
    'grpc.max_receive_message_length': grpcMessageLimit(opts.maxReportBytes ?? DEFAULT_INTAKE_LIMITS.maxReportBytes),
    // Nothing reads channelz here; with it on, grpc-js keeps trace and counters per connection and per call,
    // which a fleet of long-lived agent streams pays for in memory.
    'grpc.enable_channelz': 0,
  });
  const pings = new PingWheel(opts.pingIntervalMs);
  const linkDeps = {
    log: log.child({ component: 'agent-link' }),
    clock,
    inventory: opts.inventory,
    sessions,
    desired: source,
    pingIntervalMs: opts.pingIntervalMs,
    pings,
    helloTimeoutMs: opts.helloTimeoutMs,
    ...(opts.reconnectRatePerSecond ? { reconnectSpreadMs: () => reconnectSpreadMs(sessions.openCount(), opts.reconnectRatePerSecond!) } : {}),
    maxHeartbeatMs: opts.maxHeartbeatMs ?? DEFAULT_MAX_HEARTBEAT_MS,
    maxRestrictedHeartbeatMs: opts.maxRestrictedHeartbeatMs ?? DEFAULT_MAX_RESTRICTED_HEARTBEAT_MS,
    refused: (serial: string) => revocations.revoked(serial),
    ...(opts.onReport ? { onReport: opts.onReport } : {}),
    ...(opts.onTamper ? { onTamper: opts.onTamper } : {}),
    ...(opts.detection ? { detection: opts.detection } : {}),
    ...(opts.onObservation ? { onObservation: opts.onObservation } : {}),
    ...(opts.managedSecurity ? { managedSecurity: opts.managedSecurity } : {}),
  };
  // Agents whose connection reaches grpc-js (none does: listenMutualTls routes agent certificates to
  // agentStreams below) would still be served the same way; the service is registered for reflection too.
  const connectAgent = (stream: BidiStream<AgentMessage, ControllerMessage>, ctx: CallContext) => handleAgentConnect(stream, ctx, linkDeps);
  server.addService(AgentServiceService, {
    connect: bidiHandler('AgentService/Connect', connectAgent, deps),
  });
  const desk = createDeskHandlers({ inventory: opts.inventory, sessions: opts.agents ?? sessions, observe: opts.observe });
  const incidents = opts.incidentDesk;
  const absent = async (): Promise<never> => {
    throw new CordonError('unsupported', 'this controller runs without a store');
  };
  // The generated service type pins each method's messages; the incident desk's
  // handlers are typed there, so the loose signature here loses nothing.
  type Loose = (req: never, ctx: CallContext) => Promise<unknown>;
  // Handlers the desk's parts add (reporters, complaints, approvals, customers, BMCs); unsupported until one does.
  const part = (name: string): Loose | undefined => (incidents as unknown as Record<string, Loose | undefined> | undefined)?.[name];
  const u = (method: string, fn: Loose | undefined) => unaryHandler(`DeskService/${method}`, (fn ?? absent) as Loose, deps) as UntypedHandleCall;
  server.addService(DeskServiceService, {
    listHosts: u('ListHosts', desk.listHosts),
    listAgents: u('ListAgents', desk.listAgents),
    addHost: u('AddHost', incidents?.addHost),
    getHost: u('GetHost', incidents?.getHost),
    submitComplaint: u('SubmitComplaint', incidents?.submitComplaint),
    listIncidents: u('ListIncidents', incidents?.listIncidents),
    getIncident: u('GetIncident', incidents?.getIncident),
    answerIncident: u('AnswerIncident', incidents?.answerIncident),
    decideIncident: u('DecideIncident', incidents?.decideIncident),
    enforce: u('Enforce', incidents?.enforce),
    approve: u('Approve', incidents?.approve),
    listApprovals: u('ListApprovals', incidents?.listApprovals),
    verifyAudit: u('VerifyAudit', incidents?.verifyAudit),
    checkBmc: u('CheckBmc', incidents?.checkBmc),
    advanceClock: u('AdvanceClock', incidents?.advanceClock),
    addReporter: u('AddReporter', part('addReporter')),
    listReporters: u('ListReporters', part('listReporters')),
    removeReporter: u('RemoveReporter', part('removeReporter')),
    listComplaints: u('ListComplaints', part('listComplaints')),
    decideComplaint: u('DecideComplaint', part('decideComplaint')),
    rejectApproval: u('RejectApproval', part('rejectApproval')),
    listTerminationReviews: u('ListTerminationReviews', part('listTerminationReviews')),
    decideTerminationReview: u('DecideTerminationReview', part('decideTerminationReview')),
    setCustomerContact: u('SetCustomerContact', part('setCustomerContact')),
    setHostBmc: u('SetHostBmc', part('setHostBmc')),
    listQueue: u('ListQueue', part('listQueue')),
    getCustomerFile: u('GetCustomerFile', part('getCustomerFile')),
    markMessagesSeen: u('MarkMessagesSeen', part('markMessagesSeen')),
    resendLink: u('ResendLink', part('resendLink')),
    revokeLinks: u('RevokeLinks', part('revokeLinks')),
    getClock: u('GetClock', incidents?.getClock),
    getComplaintRaw: u('GetComplaintRaw', incidents?.getComplaintRaw),
  });
  const health = new HealthImplementation(Object.fromEntries([...HEALTH_SERVICES].map((s) => [s, 'SERVING'])));
  // Health and reflection are library code: they get the same certificate
  // checks as Cordon's own services (any Cordon identity, not revoked).
  const infra = guardedServices(server, { log: rpcLog, authorize: authorizeInfra });
  health.addToServer(infra as Server);
  addReflection(infra);

  // TLS is Cordon's own listener (so refused handshakes are logged); grpc-js
  // serves HTTP/2 on the connections it admits. Credentials are "insecure"
  // only to grpc-js, which gets sockets that are already mutual TLS.
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  // Agents' connections are served on node's own HTTP/2 (transport/AgentStreamServer.ts); everyone else's by grpc-js.
  let serving = true;
  const refusals = new HandshakeRefusalLog(log.child({ component: 'tls' }));
  const agentStreams = createAgentStreamServer({
    refuse: (address, reason, details) => refusals.refuse(address, reason, details),
    connect: connectAgent,
    authorize,
    authorizeHealth: authorizeInfra,
    health: (service) => (!HEALTH_SERVICES.has(service) ? 'SERVICE_UNKNOWN' : serving ? 'SERVING' : 'NOT_SERVING'),
    log: rpcLog,
    // Three missed heartbeats at the longest interval an agent may ask for, and a margin: the agent has been silent past going stale.
    idleTimeoutMs: (opts.staleAfterMissedHeartbeats + 1) * (opts.maxHeartbeatMs ?? DEFAULT_MAX_HEARTBEAT_MS),
  });
  const { host, port } = parseAddress(opts.listen);
  const listener = await listenMutualTls({
    host,
    port,
    tls: opts.tls,
    refusals,
    onConnection: (socket, cert) => {
      const peer = agentPeer(cert);
      if (peer) agentStreams.serve(socket, peer);
      else injector.injectConnection(socket);
    },
  });
  const boundPort = listener.port;
  log.info({ listen: `${host}:${boundPort}` }, 'controller listening');

  const linkLog = linkDeps.log;
  const sweeper = setInterval(() => {
    const { stale, recovered } = sessions.sweep();
    for (const hostId of stale) linkLog.warn({ host: hostId }, 'agent stale: heartbeats missing');
    for (const hostId of recovered) linkLog.info({ host: hostId }, 'agent heartbeats resumed');
  }, 1_000);
  sweeper.unref();
  // Revocation reaches what is already open: agent streams end with
  // PERMISSION_DENIED at once, then any connection still held by a revoked
  // certificate (health watches, reflection, a stream that did not end) is cut.
  const revocationSweepMs = opts.revocationSweepMs ?? 1_000;
  const revocationSweeper = setInterval(() => {
    // The common case, every second: nothing revoked, and 10,000 sessions need no look.
    if (!revocations.anyRevoked()) return;
    const refused = (serial: string) => revocations.revoked(serial);
    for (const { hostId, reason } of sessions.closeRefused(refused)) linkLog.warn({ host: hostId, reason }, 'agent stream closed: certificate revoked');
    for (const c of listener.dropRefused(refused, revocationSweepMs)) rpcLog.warn({ peer: c.peer, serial: c.serial, reason: c.reason }, 'connection closed: certificate revoked');
  }, revocationSweepMs);
  revocationSweeper.unref();
  const refusalSummary = setInterval(() => refusals.summarise(), 60_000);
  refusalSummary.unref();

  return {
    port: boundPort,
    sessions,
    desired,
    async stop(graceMs = 5_000) {
      clearInterval(sweeper);
      pings.stop();
      clearInterval(revocationSweeper);
      clearInterval(refusalSummary);
      refusals.summarise();
      health.setStatus('', 'NOT_SERVING');
      serving = false;
      void listener.close();
      // Agent streams never finish by themselves: end them with UNAVAILABLE,
      // which agents treat as "reconnect later", then let unary calls finish.
      sessions.closeAll('the controller is shutting down');
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await agentStreams.close(Math.min(graceMs, 1_000));
      // Connections grpc-js has not turned into sessions yet (mid-preface) go too.
      await listener.close({ destroy: true });
      log.info('controller stopped');
    },
  };
}
